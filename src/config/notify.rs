//! `notify-keyspace-events`: which keyspace notifications are published, as Redis's class
//! letters (`K E g $ l s h z x e t m d n A`). The value is kept as Redis keeps it — a set of
//! flag bits — so `CONFIG GET` shows it the way Redis does (`KEA` reads back as `AKE`).

use super::ConfValue;

/// The parsed flags of `notify-keyspace-events`, with Redis's bit values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyspaceEvents(pub u32);

impl KeyspaceEvents {
    /// `K`: publish on `__keyspace@<db>__:<key>` (the message is the event).
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__:<event>` (the message is the key).
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: a key expired (when it was accessed or found by the expiry sweep).
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: a key was evicted for `maxmemory` (Kiwi never evicts).
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands (Kiwi has no streams yet).
    pub const STREAM: u32 = 1 << 10;
    /// `m`: a read found no key (not part of `A`, as in Redis).
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module events (Kiwi has no modules).
    pub const MODULE: u32 = 1 << 13;
    /// `n`: a key was created (not part of `A`, as in Redis).
    pub const NEW: u32 = 1 << 14;
    /// `A`: `g$lshzxetd`.
    pub const ALL: u32 = Self::GENERIC
        | Self::STRING
        | Self::LIST
        | Self::SET
        | Self::HASH
        | Self::ZSET
        | Self::EXPIRED
        | Self::EVICTED
        | Self::STREAM
        | Self::MODULE;

    /// The letters of the classes in `A`, in the order Redis prints them.
    const CLASS_LETTERS: [(char, u32); 11] = [
        ('g', Self::GENERIC),
        ('$', Self::STRING),
        ('l', Self::LIST),
        ('s', Self::SET),
        ('h', Self::HASH),
        ('z', Self::ZSET),
        ('x', Self::EXPIRED),
        ('e', Self::EVICTED),
        ('t', Self::STREAM),
        ('d', Self::MODULE),
        ('n', Self::NEW),
    ];

    /// True when events of `class` are published on at least one of the two channel kinds.
    pub fn wants(self, class: u32) -> bool {
        self.0 & class != 0 && self.0 & (Self::KEYSPACE | Self::KEYEVENT) != 0
    }

    /// True when some event is published at all.
    pub fn any(self) -> bool {
        self.wants(!(Self::KEYSPACE | Self::KEYEVENT))
    }
}

impl ConfValue for KeyspaceEvents {
    fn parse(text: &str) -> Result<Self, String> {
        let mut flags = 0;
        for c in text.chars() {
            flags |= match c {
                'A' => Self::ALL,
                'K' => Self::KEYSPACE,
                'E' => Self::KEYEVENT,
                'm' => Self::KEY_MISS,
                other => Self::CLASS_LETTERS
                    .iter()
                    .find(|(letter, _)| *letter == other)
                    .map(|(_, bit)| *bit)
                    .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?,
            };
        }
        Ok(KeyspaceEvents(flags))
    }

    /// Redis's spelling: `A` for the whole set, else each class letter, then `K`, `E`, `m`.
    /// Like Redis 7.0, `A` hides an `n` set with it (`AnKE` reads back as `AKE`).
    fn render(&self) -> String {
        let flags = self.0;
        let mut out = String::new();
        if flags & Self::ALL == Self::ALL {
            out.push('A');
        } else {
            for (letter, bit) in Self::CLASS_LETTERS {
                if flags & bit != 0 {
                    out.push(letter);
                }
            }
        }
        for (letter, bit) in [
            ('K', Self::KEYSPACE),
            ('E', Self::KEYEVENT),
            ('m', Self::KEY_MISS),
        ] {
            if flags & bit != 0 {
                out.push(letter);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str) -> String {
        KeyspaceEvents::parse(text).unwrap().render()
    }

    /// The readings redis-server 7.0 gives for the same CONFIG SET values.
    #[test]
    fn renders_like_redis() {
        assert_eq!(roundtrip("KEA"), "AKE");
        assert_eq!(roundtrip("KEAz"), "AKE");
        assert_eq!(roundtrip("gKE"), "gKE");
        assert_eq!(roundtrip("$lshzxeKE"), "$lshzxeKE");
        assert_eq!(roundtrip("KA"), "AK");
        assert_eq!(roundtrip("EA"), "AE");
        assert_eq!(roundtrip("mn"), "nm");
        assert_eq!(roundtrip("Kg$lshzxetd"), "AK");
        assert_eq!(roundtrip("AnmKE"), "AKEm");
        assert_eq!(roundtrip("gn"), "gn");
        assert_eq!(roundtrip(""), "");
    }

    #[test]
    fn refuses_unknown_letters_with_redis_message() {
        assert_eq!(
            KeyspaceEvents::parse("KQ").unwrap_err(),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
    }

    #[test]
    fn a_class_needs_a_channel_kind() {
        let flags = |t: &str| KeyspaceEvents::parse(t).unwrap();
        assert!(!flags("A").any());
        assert!(flags("Kl").wants(KeyspaceEvents::LIST));
        assert!(!flags("Kl").wants(KeyspaceEvents::SET));
        assert!(!flags("KA").wants(KeyspaceEvents::NEW));
        assert!(flags("En").any());
        assert!(!flags("KE").any());
    }
}
