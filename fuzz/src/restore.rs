//! `restore_payload`: the RESTORE payload decoder (`util::rdb::read_value`, every encoding
//! Redis 7.0 writes). Checked: no panic, a refused payload is `None`, and a decoded value
//! written back in Kiwi's encoding decodes to the same value.

use kiwi::util::rdb::{read_value, write_value};

pub fn restore_payload(data: &[u8]) {
    let Some(value) = read_value(data) else {
        return;
    };
    let mut again = Vec::new();
    write_value(&mut again, &value);
    assert_eq!(
        read_value(&again),
        Some(value),
        "a decoded value does not survive a round trip"
    );
}
