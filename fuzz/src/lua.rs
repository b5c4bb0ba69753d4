//! `lua_script`: the Lua engine on hostile input. The first byte picks what the rest is: a
//! script body to compile and run (against a host whose `redis.call` echoes its arguments and
//! which stops the script after a few hook ticks), or data for `cjson.decode`,
//! `cmsgpack.unpack`, `struct.unpack` (format and data split at the first NUL), `cjson.encode`
//! of a decoded value, or a FUNCTION library to load. Checked: no panic and no crash; every
//! outcome is a reply; the interpreter still runs a plain script afterwards.

use std::cell::RefCell;

use bytes::Bytes;
use kiwi::resp::Frame;
use kiwi::script::{sha1_hex, Host, RunOptions, Vm};

struct Echo {
    ticks: u32,
}

impl Host for Echo {
    fn call(&mut self, args: Vec<Bytes>, _resp3: bool) -> Result<Frame, String> {
        if args[0].eq_ignore_ascii_case(b"error") {
            return Ok(Frame::Error("ERR asked for".into()));
        }
        Ok(Frame::Array(args.into_iter().map(Frame::Bulk).collect()))
    }
    fn acl_check(&mut self, _args: &[Bytes]) -> Result<bool, String> {
        Ok(true)
    }
    fn tick(&mut self) -> Result<bool, String> {
        self.ticks += 1;
        if self.ticks > 3 {
            return Err("Script killed by user with SCRIPT KILL...".into());
        }
        Ok(self.ticks > 1)
    }
    fn log(&mut self, _level: i32, _message: &str) {}
}

thread_local! {
    /// One interpreter per thread, reused like the server reuses its own, and replaced every
    /// few thousand inputs (as SCRIPT FLUSH would): every distinct script stays compiled in it.
    static VM: RefCell<(Option<Vm>, u32)> = const { RefCell::new((None, 0)) };
}

/// Inputs one interpreter serves before it is replaced.
const INPUTS_PER_VM: u32 = 2000;

fn run(vm: &mut Vm, body: &[u8], argv: &[Bytes]) -> Frame {
    let sha = sha1_hex(body);
    if let Err(e) = vm.compile(&sha, body) {
        assert!(e.starts_with("ERR Error compiling script"), "{e}");
        return Frame::Error(e);
    }
    let mut host = Echo { ticks: 0 };
    vm.run(
        &mut host,
        &sha,
        &[Bytes::from_static(b"key")],
        argv,
        RunOptions { watch: true },
    )
}

pub fn lua_script(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    VM.with(|cell| {
        let (slot, served) = &mut *cell.borrow_mut();
        *served += 1;
        if *served > INPUTS_PER_VM {
            *slot = None;
            *served = 0;
        }
        let vm = slot.get_or_insert_with(|| Vm::new(32 << 20, "7.0.15").expect("interpreter"));
        let input = Bytes::copy_from_slice(rest);
        let _reply = match mode % 6 {
            0 => run(vm, rest, &[]),
            1 => run(vm, b"return cjson.decode(ARGV[1])", &[input]),
            2 => run(vm, b"return {cmsgpack.unpack(ARGV[1])}", &[input]),
            3 => {
                let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                let format = Bytes::copy_from_slice(&rest[..split]);
                let data = Bytes::copy_from_slice(rest.get(split + 1..).unwrap_or_default());
                run(vm, b"return {struct.unpack(ARGV[1], ARGV[2])}", &[format, data])
            }
            4 => run(
                vm,
                b"local ok, v = pcall(cjson.decode, ARGV[1]) if ok then return cjson.encode(v) end return v",
                &[input],
            ),
            _ => match vm.load_library(rest, 50) {
                Ok(functions) => Frame::Integer(functions.len() as i64),
                Err(e) => Frame::Error(e),
            },
        };
        let sanity = run(vm, b"return 1 + 1", &[]);
        assert_eq!(sanity, Frame::Integer(2), "the interpreter stopped working");
    });
}
