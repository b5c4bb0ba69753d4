//! The Redis serialization protocol: the reply value type and its RESP2/RESP3 encoding
//! (`frame`), the request parser with its safety limits (`parse`), and a small async client used by
//! `kiwictl`, `kiwi-bench` and the tests (`client`).

pub mod client;
pub mod frame;
pub mod parse;

pub use frame::{Frame, Protocol};
pub use parse::{ParseError, ParseLimits, RequestParser};
