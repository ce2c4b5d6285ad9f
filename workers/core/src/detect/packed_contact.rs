//! The contact a conversation's state keeps, packed into one exact-size byte buffer: a small
//! header (which optional fields are present, vip, value, the lengths) and then the strings
//! back to back. Against a boxed `Contact` (240 bytes of eight `Option<String>`s and a tag
//! vector, plus one allocation per field) a typical contact takes a quarter of the memory.
//!
//! On the changelog it is the same Avro `Contact` record as before (serialised through
//! [`Contact`]), so existing changelogs restore unchanged.

use crate::records::Contact;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Field order in the header's presence mask and in the packed strings.
const FIELDS: usize = 8;
const VIP: u8 = 1;
const HAS_VALUE: u8 = 2;

/// Layout: `[present mask][flags][value: 8 bytes LE if HAS_VALUE][varint tag count]`
/// `[varint length per present field][varint length per tag][the strings, in order]`.
#[derive(Clone, PartialEq, Eq)]
pub struct PackedContact(Box<[u8]>);

fn fields(c: &Contact) -> [&Option<String>; FIELDS] {
    [
        &c.contact_id,
        &c.name,
        &c.email,
        &c.phone,
        &c.company,
        &c.role,
        &c.account_id,
        &c.plan,
    ]
}

fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Reads the header, then hands out the strings in order.
#[derive(Clone, Copy)]
struct Reader<'a> {
    bytes: &'a [u8],
    /// Where the next varint length is.
    head: usize,
    /// Where the next string starts.
    text: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> usize {
        let (mut n, mut shift) = (0usize, 0);
        loop {
            let b = self.bytes[self.head];
            self.head += 1;
            n |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return n;
            }
            shift += 7;
        }
    }

    fn string(&mut self) -> &'a str {
        let len = self.varint();
        let s = &self.bytes[self.text..self.text + len];
        self.text += len;
        // Packed from `&str`s, so always UTF-8.
        std::str::from_utf8(s).expect("packed contact strings are UTF-8")
    }
}

impl PackedContact {
    pub fn new(c: &Contact) -> Self {
        let present = fields(c);
        let mut mask = 0u8;
        let mut text = 0;
        let mut header = 2 + varint_len(c.tags.len());
        for (i, f) in present.iter().enumerate() {
            if let Some(s) = f {
                mask |= 1 << i;
                text += s.len();
                header += varint_len(s.len());
            }
        }
        for t in &c.tags {
            text += t.len();
            header += varint_len(t.len());
        }
        if c.value.is_some() {
            header += 8;
        }
        let mut out = Vec::with_capacity(header + text);
        out.push(mask);
        out.push(if c.vip { VIP } else { 0 } | if c.value.is_some() { HAS_VALUE } else { 0 });
        if let Some(v) = c.value {
            out.extend_from_slice(&v.to_le_bytes());
        }
        push_varint(&mut out, c.tags.len());
        for s in present.iter().copied().flatten() {
            push_varint(&mut out, s.len());
        }
        for t in &c.tags {
            push_varint(&mut out, t.len());
        }
        for s in present.iter().copied().flatten() {
            out.extend_from_slice(s.as_bytes());
        }
        for t in &c.tags {
            out.extend_from_slice(t.as_bytes());
        }
        debug_assert_eq!(out.len(), header + text);
        PackedContact(out.into_boxed_slice())
    }

    /// Bytes allocated on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.0.len()
    }

    pub fn vip(&self) -> bool {
        self.0[1] & VIP != 0
    }

    pub fn value(&self) -> Option<f64> {
        (self.0[1] & HAS_VALUE != 0)
            .then(|| f64::from_le_bytes(self.0[2..10].try_into().expect("8 bytes")))
    }

    /// The header read up to the field lengths, and the tag count.
    fn reader(&self) -> (Reader<'_>, usize) {
        let mut r = Reader {
            bytes: &self.0,
            head: if self.0[1] & HAS_VALUE != 0 { 10 } else { 2 },
            text: 0,
        };
        let tags = r.varint();
        // The strings start after all the lengths.
        let mut scan = r;
        let count = self.0[0].count_ones() as usize + tags;
        let mut total = 0;
        for _ in 0..count {
            total += scan.varint();
        }
        r.text = self.0.len() - total;
        (r, tags)
    }

    /// Field `i` in [`fields`] order.
    fn field(&self, i: usize) -> Option<&str> {
        let mask = self.0[0];
        if mask & (1 << i) == 0 {
            return None;
        }
        let (mut r, _) = self.reader();
        for _ in 0..(mask & ((1 << i) - 1)).count_ones() {
            r.string();
        }
        Some(r.string())
    }

    pub fn plan(&self) -> Option<&str> {
        self.field(7)
    }

    pub fn name(&self) -> Option<&str> {
        self.field(1)
    }

    pub fn to_contact(&self) -> Contact {
        let (mut r, tags) = self.reader();
        let mask = self.0[0];
        let mut get = |i: usize| (mask & (1 << i) != 0).then(|| r.string().to_string());
        let mut c = Contact {
            contact_id: get(0),
            name: get(1),
            email: get(2),
            phone: get(3),
            company: get(4),
            role: get(5),
            account_id: get(6),
            plan: get(7),
            value: self.value(),
            vip: self.vip(),
            tags: Vec::with_capacity(tags),
        };
        for _ in 0..tags {
            c.tags.push(r.string().to_string());
        }
        c
    }
}

impl From<&Contact> for PackedContact {
    fn from(c: &Contact) -> Self {
        PackedContact::new(c)
    }
}

impl std::fmt::Debug for PackedContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_contact().fmt(f)
    }
}

impl Serialize for PackedContact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_contact().serialize(s)
    }
}

impl<'de> Deserialize<'de> for PackedContact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PackedContact::new(&Contact::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_field() {
        let full = Contact {
            contact_id: Some("c-1".into()),
            name: Some("Ana Ruiz".into()),
            email: Some("ana@example.com".into()),
            phone: Some("+34 600 000 000".into()),
            company: Some("Acme, S.L. — España".into()),
            role: Some(String::new()),
            account_id: Some("A-77".into()),
            plan: Some("growth".into()),
            value: Some(-12_345.5),
            vip: true,
            tags: vec!["b2b".into(), String::new(), "x".repeat(300)],
        };
        let p = PackedContact::new(&full);
        assert_eq!(p.to_contact(), full);
        assert_eq!(p.plan(), Some("growth"));
        assert_eq!(p.name(), Some("Ana Ruiz"));
        assert_eq!(p.value(), Some(-12_345.5));
        assert!(p.vip());

        let empty = Contact::default();
        let p = PackedContact::new(&empty);
        assert_eq!(p.to_contact(), empty);
        assert_eq!((p.plan(), p.value(), p.vip()), (None, None, false));

        let sparse = Contact {
            plan: Some("starter".into()),
            tags: vec!["t".into()],
            ..Default::default()
        };
        let p = PackedContact::new(&sparse);
        assert_eq!(p.to_contact(), sparse);
        assert_eq!(p.plan(), Some("starter"));
        assert_eq!(p.name(), None);
    }

    #[test]
    fn is_exact_size() {
        let c = Contact {
            name: Some("Ana Ruiz".into()),
            email: Some("ana@example.com".into()),
            account_id: Some("A-77".into()),
            plan: Some("growth".into()),
            ..Default::default()
        };
        // mask, flags, tag count, four lengths, 33 bytes of text
        assert_eq!(PackedContact::new(&c).heap_bytes(), 2 + 1 + 4 + 33);
    }
}
