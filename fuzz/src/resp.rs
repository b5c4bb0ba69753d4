//! RESP: the request parser (`resp_request`), the client's reply parser (`resp_reply`) and the
//! encoding of reply values (`resp_frame`), plus a strict RESP validator that the `commands`
//! target also applies to every reply a command produces.

use bytes::{Bytes, BytesMut};
use kiwi::resp::client::{encode_command, parse_reply};
use kiwi::resp::{Frame, ParseError, ParseLimits, Protocol, RequestParser};

use super::alloc::Measure;
use super::input::Input;

/// Longest header or inline line the parser accepts (its `MAX_INLINE_LEN`): past it, what the
/// parser answers depends on how the bytes were split into reads, as in Redis.
const MAX_INLINE_LEN: usize = 64 * 1024;

/// What one `next()` call may allocate: a bounded multiple of the bytes that arrived (an inline
/// line of one-byte arguments costs about 55 bytes of argument handles per input byte) plus a
/// constant (1024 pre-allocated argument slots of 32 bytes, error texts). A parser that trusted a
/// length header would allocate the claimed size and break this at once.
const ALLOC_PER_BYTE: usize = 64;
const ALLOC_SLACK: usize = 64 * 1024;

/// The parser's results for one byte stream.
#[derive(Debug, PartialEq)]
struct Parsed {
    commands: Vec<Vec<Bytes>>,
    error: Option<ParseError>,
    /// Bytes left in the buffer at the end (none recorded after an error).
    rest: Vec<u8>,
    pending: usize,
}

/// `resp_request`: the request parser on arbitrary bytes fed in arbitrary reads.
///
/// The first byte picks the limits (authenticated or not, `proto-max-bulk-len`) and how the rest
/// is split into reads. Checked: no panic; no `next()` call allocates beyond
/// [`ALLOC_PER_BYTE`] × bytes arrived + [`ALLOC_SLACK`]; the commands, the error and what is left
/// over do not depend on the split; every argument respects the limits; every accepted command,
/// encoded again as a RESP array, parses back to the same arguments.
pub fn resp_request(data: &[u8]) {
    let Some((&head, stream)) = data.split_first() else {
        return;
    };
    let limits = ParseLimits {
        unauthenticated: head & 1 == 1,
        max_bulk_len: [16, 1024, 1 << 20, 512 << 20][usize::from((head >> 1) & 3)],
    };
    let split = head >> 3;
    let whole = parse_in_reads(stream, limits, 0);
    let chunked = parse_in_reads(stream, limits, split);
    if stream.len() <= MAX_INLINE_LEN {
        assert_eq!(
            whole, chunked,
            "the result depends on how the input was split"
        );
    }
    let longest_line = MAX_INLINE_LEN;
    for command in &whole.commands {
        assert!(!command.is_empty(), "an empty command was returned");
        for arg in command {
            assert!(
                arg.len() <= limits.max_bulk_len.max(longest_line),
                "an argument of {} bytes passed the limits",
                arg.len()
            );
        }
        let mut encoded = BytesMut::new();
        encode_command(command, &mut encoded);
        let again = parse_in_reads(&encoded, relaxed_limits(), 0);
        assert_eq!(
            again.commands,
            vec![command.clone()],
            "re-encoded command parses differently"
        );
        assert!(again.error.is_none() && again.rest.is_empty() && again.pending == 0);
    }
}

fn relaxed_limits() -> ParseLimits {
    ParseLimits {
        unauthenticated: false,
        max_bulk_len: usize::MAX >> 1,
    }
}

/// Feeds `stream` in reads whose sizes `split` chooses (0: one read; 1: one byte at a time;
/// others: pseudo-random sizes), taking every complete command after each read.
fn parse_in_reads(stream: &[u8], limits: ParseLimits, split: u8) -> Parsed {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut parsed = Parsed {
        commands: Vec::new(),
        error: None,
        rest: Vec::new(),
        pending: 0,
    };
    let mut state = u32::from(split).wrapping_mul(0x9e37_79b9) | 1;
    let mut at = 0;
    'reads: while at < stream.len() {
        let size = match split {
            0 => stream.len(),
            1 => 1,
            _ => {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                1 + (state as usize % if state & 0x100 == 0 { 8 } else { 300 })
            }
        };
        let end = (at + size).min(stream.len());
        buf.extend_from_slice(&stream[at..end]);
        at = end;
        loop {
            let measure = Measure::start();
            let result = parser.next(&mut buf, limits);
            let grown = measure.peak_growth();
            let bound = ALLOC_PER_BYTE * at + ALLOC_SLACK;
            assert!(
                grown <= bound,
                "one next() call allocated {grown} bytes after {at} bytes arrived"
            );
            assert!(
                parser.pending_bytes() <= bound,
                "the parser holds {} bytes after {at} bytes arrived",
                parser.pending_bytes()
            );
            match result {
                Ok(Some(command)) => parsed.commands.push(command),
                Ok(None) => break,
                Err(err) => {
                    parsed.error = Some(err);
                    break 'reads;
                }
            }
        }
    }
    // After an error the connection closes: what is left unread does not matter.
    if parsed.error.is_none() {
        parsed.rest = buf.to_vec();
        parsed.pending = parser.pending_bytes();
    }
    parsed
}

/// `resp_reply`: the client's reply parser (`kiwictl`, `kiwi-bench`, the tests) on arbitrary
/// bytes. Checked: no panic; parsing reply after reply gives the same frames and the same error
/// whether the bytes arrive at once or one at a time; every parsed frame, encoded as RESP3,
/// parses back to itself (up to what RESP3 cannot tell apart: both nulls are `_`, an error line
/// cannot hold CR or LF).
pub fn resp_reply(data: &[u8]) {
    let whole = replies_in_reads(data, false);
    // Re-parsing from the start on every byte is quadratic: keep the byte-wise pass short.
    if data.len() <= 4096 {
        let bytewise = replies_in_reads(data, true);
        assert!(
            same_replies(&whole, &bytewise),
            "the result depends on how the input was split: {whole:?} vs {bytewise:?}"
        );
    }
    for frame in &whole.0 {
        let mut encoded = BytesMut::new();
        frame.encode(Protocol::Resp3, &mut encoded);
        let again = parse_reply(&mut encoded).map_err(|e| e.to_string());
        let expected = resp3_view(frame);
        match again {
            Ok(Some(back)) if frames_equal(&back, &expected) => {}
            other => panic!("{frame:?} encoded as RESP3 parses back as {other:?}"),
        }
        assert!(encoded.is_empty(), "{frame:?}: bytes left after parsing");
    }
}

type Replies = (Vec<Frame>, Option<String>, usize);

/// Every reply in `data`, the parse error if any, and the bytes left unconsumed.
fn replies_in_reads(data: &[u8], bytewise: bool) -> Replies {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let end = if bytewise { at + 1 } else { data.len() };
        buf.extend_from_slice(&data[at..end]);
        at = end;
        loop {
            match parse_reply(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                // The connection is given up: what is left unread does not matter.
                Err(err) => return (frames, Some(err.to_string()), 0),
            }
        }
    }
    (frames, None, buf.len())
}

fn same_replies(a: &Replies, b: &Replies) -> bool {
    a.1 == b.1
        && a.2 == b.2
        && a.0.len() == b.0.len()
        && a.0.iter().zip(&b.0).all(|(x, y)| frames_equal(x, y))
}

/// Frame equality where NaN equals NaN (a reply parser cannot do better than the text it got).
pub fn frames_equal(a: &Frame, b: &Frame) -> bool {
    let all = |x: &[Frame], y: &[Frame]| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| frames_equal(p, q))
    };
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Frame::Array(x), Frame::Array(y))
        | (Frame::Set(x), Frame::Set(y))
        | (Frame::Push(x), Frame::Push(y)) => all(x, y),
        (Frame::Map(x), Frame::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| frames_equal(k1, k2) && frames_equal(v1, v2))
        }
        _ => a == b,
    }
}

/// What a RESP3 reader sees of `frame`.
fn resp3_view(frame: &Frame) -> Frame {
    let each = |items: &[Frame]| items.iter().map(resp3_view).collect();
    match frame {
        Frame::NullArray => Frame::Null,
        Frame::Error(text) => Frame::Error(text.replace(['\r', '\n'], " ")),
        Frame::DoubleText(text) => Frame::Double(
            std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(f64::NAN),
        ),
        Frame::Array(items) => Frame::Array(each(items)),
        Frame::Set(items) => Frame::Set(each(items)),
        Frame::Push(items) => Frame::Push(each(items)),
        Frame::Map(pairs) => Frame::Map(
            pairs
                .iter()
                .map(|(k, v)| (resp3_view(k), resp3_view(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What a RESP2 reader sees of `frame`: Redis 7's folding of the RESP3 types.
fn resp2_view(frame: &Frame) -> Frame {
    let each = |items: &[Frame]| items.iter().map(resp2_view).collect();
    match frame {
        Frame::Error(text) => Frame::Error(text.replace(['\r', '\n'], " ")),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => Frame::Array(each(items)),
        Frame::Map(pairs) => Frame::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [resp2_view(k), resp2_view(v)])
                .collect(),
        ),
        Frame::Double(d) => Frame::Bulk(kiwi::util::number::format_double(*d).into()),
        Frame::DoubleText(text) | Frame::Verbatim(text) | Frame::BigNumber(text) => {
            Frame::Bulk(text.clone())
        }
        Frame::Boolean(b) => Frame::Integer(i64::from(*b)),
        other => other.clone(),
    }
}

/// `resp_frame`: reply values built from the input, encoded in both protocols. Checked: each
/// encoding is strictly valid RESP of that protocol with nothing left over, and the client's
/// parser reads back what a client of that protocol must see (RESP2: Redis 7's folding).
pub fn resp_frame(data: &[u8]) {
    let mut input = Input::new(data);
    let mut budget = 256;
    while !input.is_empty() {
        let frame = build_frame(&mut input, 0, &mut budget);
        for (proto, view) in [
            (Protocol::Resp3, resp3_view(&frame)),
            (Protocol::Resp2, resp2_view(&frame)),
        ] {
            let mut encoded = BytesMut::new();
            frame.encode(proto, &mut encoded);
            if let Err(err) = validate(&encoded, proto) {
                panic!("{frame:?} encodes as invalid {proto:?}: {err}");
            }
            match parse_reply(&mut encoded) {
                Ok(Some(back)) if frames_equal(&back, &view) => {}
                other => panic!("{frame:?} as {proto:?} parses back as {other:?}"),
            }
            assert!(encoded.is_empty(), "{frame:?}: bytes left after parsing");
        }
    }
}

/// A reply value as a command could build it: simple strings and big numbers never hold CR or
/// LF, double texts are formatted numbers.
fn build_frame(input: &mut Input<'_>, depth: usize, budget: &mut usize) -> Frame {
    *budget = budget.saturating_sub(1);
    let leaf = depth >= 6 || *budget == 0;
    let kind = input.byte() % if leaf { 11 } else { 15 };
    let text = |input: &mut Input<'_>| {
        let len = input.choose(24);
        Bytes::copy_from_slice(input.bytes(len))
    };
    match kind {
        0 => Frame::Simple(
            text(input)
                .iter()
                .copied()
                .filter(|b| !b"\r\n".contains(b))
                .collect(),
        ),
        1 => Frame::Error(String::from_utf8_lossy(&text(input)).into_owned()),
        2 => Frame::Integer(input.u64() as i64),
        3 => Frame::Bulk(text(input)),
        4 => Frame::Null,
        5 => Frame::NullArray,
        6 => Frame::Double(f64::from_bits(input.u64())),
        7 => {
            let value = f64::from_bits(input.u64());
            let text = if input.byte() & 1 == 0 {
                kiwi::util::number::format_double(value)
            } else {
                kiwi::util::number::format_human_double(value)
            };
            Frame::DoubleText(text.into())
        }
        8 => Frame::Boolean(input.byte() & 1 == 1),
        9 => Frame::Verbatim(text(input)),
        10 => Frame::BigNumber((input.u64() as i64).to_string().into()),
        kind => {
            let count = input.choose(5);
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                items.push(build_frame(input, depth + 1, budget));
            }
            match kind {
                11 => Frame::Array(items),
                12 => Frame::Set(items),
                13 => Frame::Push(items),
                _ => {
                    let mut pairs = Vec::new();
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                }
            }
        }
    }
}

/// Checks that `buf` holds exactly one well-formed RESP value of `proto` (RESP2 allows only
/// `+ - : $ *`), strictly: CRLF line ends, no CR or LF inside a line, exact lengths, integers
/// that fit in 64 bits, doubles a client can read, `#t`/`#f`, verbatim text with its `xxx:`
/// format. The error says what is wrong and where.
pub fn validate(buf: &[u8], proto: Protocol) -> Result<(), String> {
    let mut pos = 0;
    value(buf, &mut pos, proto, 0)?;
    if pos != buf.len() {
        return Err(format!("{} bytes after the value", buf.len() - pos));
    }
    Ok(())
}

fn value(buf: &[u8], pos: &mut usize, proto: Protocol, depth: usize) -> Result<(), String> {
    if depth > 128 {
        return Err("nested more than 128 deep".into());
    }
    let at = *pos;
    let Some(&kind) = buf.get(at) else {
        return Err(format!("value missing at {at}"));
    };
    *pos += 1;
    let resp3_only = matches!(
        kind,
        b'_' | b',' | b'#' | b'=' | b'(' | b'!' | b'~' | b'>' | b'%'
    );
    if proto == Protocol::Resp2 && resp3_only {
        return Err(format!("RESP3 type {:?} in RESP2 at {at}", kind as char));
    }
    let line = strict_line(buf, pos)?;
    let text = std::str::from_utf8(line).ok();
    let bad = |what: &str| format!("{what} at {at}: {:?}", String::from_utf8_lossy(line));
    // A length or count; `None` for -1, the RESP2 null that only `$` and `*` may use.
    let count = || -> Result<Option<usize>, String> {
        match text.filter(|t| !t.starts_with('+')).map(str::parse::<i64>) {
            Some(Ok(-1)) if proto == Protocol::Resp2 && matches!(kind, b'$' | b'*') => Ok(None),
            Some(Ok(n)) if n >= 0 => Ok(Some(n as usize)),
            _ => Err(bad("bad length")),
        }
    };
    match kind {
        b'+' | b'-' => Ok(()),
        b':' => text
            .filter(|t| !t.starts_with('+'))
            .and_then(|t| t.parse::<i64>().ok())
            .map(|_| ())
            .ok_or_else(|| bad("bad integer")),
        b'_' if line.is_empty() => Ok(()),
        b'#' if line == b"t" || line == b"f" => Ok(()),
        b',' => text
            .filter(|t| is_double(t))
            .map(|_| ())
            .ok_or_else(|| bad("bad double")),
        b'(' => text
            .map(|t| t.strip_prefix('-').unwrap_or(t))
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .map(|_| ())
            .ok_or_else(|| bad("bad big number")),
        b'$' | b'=' | b'!' => {
            let Some(len) = count()? else {
                return Ok(());
            };
            let end = pos.checked_add(len).filter(|&e| e + 2 <= buf.len());
            let Some(end) = end else {
                return Err(bad("payload shorter than its length"));
            };
            let payload = &buf[*pos..end];
            if &buf[end..end + 2] != b"\r\n" {
                return Err(bad("payload not followed by CRLF"));
            }
            if kind == b'=' && (payload.len() < 4 || payload[3] != b':') {
                return Err(bad("verbatim text without its format"));
            }
            *pos = end + 2;
            Ok(())
        }
        b'*' | b'~' | b'>' | b'%' => {
            let Some(n) = count()? else {
                return Ok(());
            };
            let items = if kind == b'%' { n.saturating_mul(2) } else { n };
            for _ in 0..items {
                value(buf, pos, proto, depth + 1)?;
            }
            Ok(())
        }
        _ => Err(bad(&format!("unknown type {:?}", kind as char))),
    }
}

/// The line starting at `pos`, which must end with CRLF and hold no other CR or LF.
fn strict_line<'a>(buf: &'a [u8], pos: &mut usize) -> Result<&'a [u8], String> {
    let start = *pos;
    let Some(offset) = buf[start..].iter().position(|&b| b == b'\r' || b == b'\n') else {
        return Err(format!("line at {start} has no end"));
    };
    let end = start + offset;
    if buf.get(end..end + 2) != Some(b"\r\n".as_slice()) {
        return Err(format!("line at {start} holds a bare CR or LF"));
    }
    *pos = end + 2;
    Ok(&buf[start..end])
}

/// A RESP3 double: `inf`, `-inf`, `nan` (`-nan` too, as C's printf writes it and Redis sends)
/// or a decimal number.
fn is_double(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    matches!(digits, "inf" | "nan")
        || (digits.starts_with(|c: char| c.is_ascii_digit())
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
            && text.parse::<f64>().is_ok())
}
