//! The turns a conversation's state keeps, packed: one string holds the prefix every kept event
//! id shares, then each turn's rest of id and text back to back; a 20-byte entry per turn holds
//! the lengths, the actor and the time. Against a record per turn with two boxed strings (48
//! bytes plus two allocations a turn, and each id in full) that is about half the memory.
//!
//! On the changelog it is the same Avro array of `Turn` records as before (serialised turn by
//! turn with the full event id), so existing changelogs restore unchanged.

use crate::records::{Actor, Turn};
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    occurred_at: Timestamp,
    /// Bytes of the event id after the shared prefix.
    id_rest: u32,
    /// Bytes of the text (at most `MAX_TURN_TEXT` when absorbed; any when restored).
    text: u32,
    actor: Actor,
}

/// The kept turns, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    /// The shared id prefix (`prefix` bytes), then per turn: rest of id, text.
    buf: String,
    entries: Vec<Entry>,
    prefix: u32,
}

/// One kept turn, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnRef<'a> {
    id_prefix: &'a str,
    id_rest: &'a str,
    pub actor: Actor,
    pub text: &'a str,
    pub occurred_at: Timestamp,
}

impl TurnRef<'_> {
    pub fn event_id(&self) -> String {
        [self.id_prefix, self.id_rest].concat()
    }

    pub fn to_turn(&self) -> Turn {
        Turn {
            event_id: self.event_id(),
            actor: self.actor,
            text: self.text.to_string(),
            occurred_at: self.occurred_at,
        }
    }
}

impl Transcript {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes allocated on the heap (capacities, not lengths).
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    /// Bytes of turn text kept.
    pub fn text_bytes(&self) -> usize {
        self.entries.iter().map(|e| e.text as usize).sum()
    }

    pub fn get(&self, i: usize) -> Option<TurnRef<'_>> {
        let e = self.entries.get(i)?;
        let start = self.offset(i);
        Some(self.view(e, start))
    }

    pub fn iter(&self) -> impl Iterator<Item = TurnRef<'_>> + '_ {
        let mut at = self.prefix as usize;
        self.entries.iter().map(move |e| {
            let t = self.view(e, at);
            at += (e.id_rest + e.text) as usize;
            t
        })
    }

    /// Appends a turn (its text as given: the caller clips it).
    pub fn push_back(&mut self, event_id: &str, actor: Actor, text: &str, occurred_at: Timestamp) {
        if self.entries.is_empty() {
            self.buf.clear();
            self.prefix = 0;
        }
        let shared = common_prefix(&self.buf[..self.prefix as usize], event_id);
        if self.entries.is_empty() {
            // The first id is the prefix, whole: the next one will shorten it.
            self.buf.push_str(event_id);
            self.prefix = event_id.len() as u32;
        } else if shared < self.prefix as usize {
            self.shorten_prefix(shared);
        }
        let rest = &event_id[self.prefix as usize..];
        let add = rest.len() + text.len();
        if self.buf.capacity() - self.buf.len() < add {
            self.buf.reserve_exact(add);
        }
        self.buf.push_str(rest);
        self.buf.push_str(text);
        if self.entries.len() == self.entries.capacity() {
            self.entries.reserve_exact(1);
        }
        self.entries.push(Entry {
            occurred_at,
            id_rest: rest.len() as u32,
            text: text.len() as u32,
            actor,
        });
    }

    pub fn pop_front(&mut self) {
        self.remove(0);
    }

    /// Removes turn `i` (nothing if there is none).
    pub fn remove(&mut self, i: usize) {
        if i >= self.entries.len() {
            return;
        }
        let start = self.offset(i);
        let e = self.entries.remove(i);
        self.buf
            .replace_range(start..start + (e.id_rest + e.text) as usize, "");
    }

    fn offset(&self, i: usize) -> usize {
        self.prefix as usize
            + self.entries[..i]
                .iter()
                .map(|e| (e.id_rest + e.text) as usize)
                .sum::<usize>()
    }

    fn view<'a>(&'a self, e: &Entry, start: usize) -> TurnRef<'a> {
        let mid = start + e.id_rest as usize;
        TurnRef {
            id_prefix: &self.buf[..self.prefix as usize],
            id_rest: &self.buf[start..mid],
            actor: e.actor,
            text: &self.buf[mid..mid + e.text as usize],
            occurred_at: e.occurred_at,
        }
    }

    /// Re-packs the kept turns with a shorter shared prefix (an id that does not share it all).
    fn shorten_prefix(&mut self, shared: usize) {
        let old = std::mem::take(&mut self.buf);
        let (head, body) = old.split_at(self.prefix as usize);
        let moved = &head[shared..];
        let mut buf = String::with_capacity(old.len() + moved.len() * self.entries.len());
        buf.push_str(&head[..shared]);
        let mut at = 0;
        for e in &mut self.entries {
            let len = (e.id_rest + e.text) as usize;
            buf.push_str(moved);
            buf.push_str(&body[at..at + len]);
            at += len;
            e.id_rest += moved.len() as u32;
        }
        self.buf = buf;
        self.prefix = shared as u32;
    }
}

/// Bytes `a` and `b` share at the start, at a character boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    let mut n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !a.is_char_boundary(n) {
        n -= 1;
    }
    n
}

impl PartialEq for Transcript {
    fn eq(&self, other: &Self) -> bool {
        fn id<'a>(t: &TurnRef<'a>) -> impl Iterator<Item = u8> + 'a {
            t.id_prefix.bytes().chain(t.id_rest.bytes())
        }
        self.len() == other.len()
            && self.iter().zip(other.iter()).all(|(a, b)| {
                id(&a).eq(id(&b))
                    && (a.actor, a.text, a.occurred_at) == (b.actor, b.text, b.occurred_at)
            })
    }
}

/// The Avro `Turn` record, borrowed.
#[derive(Serialize)]
struct TurnOut<'a> {
    event_id: String,
    actor: Actor,
    text: &'a str,
    #[serde(with = "crate::time")]
    occurred_at: Timestamp,
}

impl Serialize for Transcript {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(|t| TurnOut {
            event_id: t.event_id(),
            actor: t.actor,
            text: t.text,
            occurred_at: t.occurred_at,
        }))
    }
}

impl<'de> Deserialize<'de> for Transcript {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let turns = Vec::<Turn>::deserialize(d)?;
        let mut t = Transcript::default();
        t.entries.reserve_exact(turns.len());
        for turn in &turns {
            t.push_back(&turn.event_id, turn.actor, &turn.text, turn.occurred_at);
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(s: i64) -> Timestamp {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    fn ids(t: &Transcript) -> Vec<String> {
        t.iter().map(|x| x.event_id()).collect()
    }

    #[test]
    fn keeps_ids_and_texts_through_prefix_changes_and_removals() {
        let mut t = Transcript::default();
        t.push_back("conv-1-0", Actor::Contact, "hello", at(0));
        t.push_back("conv-1-1", Actor::Agent, "hi there", at(1));
        t.push_back("conv-1-12", Actor::Contact, "", at(2));
        assert_eq!(ids(&t), ["conv-1-0", "conv-1-1", "conv-1-12"]);
        t.push_back("other", Actor::Agent, "ñandú…", at(3));
        assert_eq!(ids(&t), ["conv-1-0", "conv-1-1", "conv-1-12", "other"]);
        t.remove(1);
        t.pop_front();
        let texts: Vec<&str> = t.iter().map(|x| x.text).collect();
        assert_eq!(texts, ["", "ñandú…"]);
        assert_eq!(ids(&t), ["conv-1-12", "other"]);
        assert_eq!(t.get(1).unwrap().occurred_at, at(3));
        assert_eq!(t.text_bytes(), "ñandú…".len());
        t.remove(5);
        t.pop_front();
        t.pop_front();
        t.pop_front();
        assert!(t.is_empty());
        t.push_back("x-1", Actor::System, "again", at(4));
        assert_eq!(ids(&t), ["x-1"]);
    }

    #[test]
    fn multibyte_ids_share_a_prefix_at_a_char_boundary() {
        let mut t = Transcript::default();
        t.push_back("é1", Actor::Contact, "a", at(0));
        t.push_back("è2", Actor::Contact, "b", at(1));
        assert_eq!(ids(&t), ["é1", "è2"]);
    }

    #[test]
    fn serialises_as_turn_records() {
        let mut t = Transcript::default();
        t.push_back("c-1", Actor::Contact, "hello", at(0));
        t.push_back("c-2", Actor::Agent, "hi", at(1));
        let json = serde_json::to_string(&t).unwrap();
        let turns: Vec<Turn> = serde_json::from_str(&json).unwrap();
        assert_eq!(turns, t.iter().map(|x| x.to_turn()).collect::<Vec<_>>());
        let back: Transcript = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }
}
