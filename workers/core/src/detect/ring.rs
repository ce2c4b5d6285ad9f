//! A fixed-capacity ring held inline: the newest `N` values, oldest first. For the state's
//! short histories (seen-id hashes, sentiment scores) it replaces a `VecDeque`, which took a
//! 24-byte header plus a heap buffer of the same `N` values once full.
//!
//! Serialises as a plain sequence, oldest first (the Avro array it replaced); restoring a
//! longer sequence keeps its newest `N`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy)]
pub struct Ring<T: Copy + Default, const N: usize> {
    items: [T; N],
    /// Index of the oldest value.
    head: u8,
    len: u8,
}

impl<T: Copy + Default, const N: usize> Default for Ring<T, N> {
    fn default() -> Self {
        const { assert!(N > 0 && N <= u8::MAX as usize) };
        Ring {
            items: [T::default(); N],
            head: 0,
            len: 0,
        }
    }
}

impl<T: Copy + Default, const N: usize> Ring<T, N> {
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `v`, dropping the oldest value when full.
    pub fn push(&mut self, v: T) {
        let len = usize::from(self.len);
        if len == N {
            self.items[usize::from(self.head)] = v;
            self.head = ((usize::from(self.head) + 1) % N) as u8;
        } else {
            self.items[(usize::from(self.head) + len) % N] = v;
            self.len += 1;
        }
    }

    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = T> + ExactSizeIterator + '_ {
        (0..usize::from(self.len)).map(move |i| self.items[(usize::from(self.head) + i) % N])
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> Ring<T, N> {
    pub fn contains(&self, v: &T) -> bool {
        self.iter().any(|x| x == *v)
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> PartialEq for Ring<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Copy + Default + std::fmt::Debug, const N: usize> std::fmt::Debug for Ring<T, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Copy + Default, const N: usize> FromIterator<T> for Ring<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut r = Ring::default();
        for v in iter {
            r.push(v);
        }
        r
    }
}

impl<T: Copy + Default + Serialize, const N: usize> Serialize for Ring<T, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Copy + Default + Deserialize<'de>, const N: usize> Deserialize<'de> for Ring<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<T>::deserialize(d)?.into_iter().collect())
    }
}

/// Sentiment scores are kept as `f32` and travel as Avro doubles.
pub mod f32_as_f64 {
    use super::Ring;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        r: &Ring<f32, N>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(r.iter().map(f64::from))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<Ring<f32, N>, D::Error> {
        Ok(Vec::<f64>::deserialize(d)?
            .into_iter()
            .map(|v| v as f32)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_n_oldest_first() {
        let mut r: Ring<i64, 3> = Ring::default();
        assert!(r.is_empty());
        for v in 1..=2 {
            r.push(v);
        }
        assert_eq!(r.iter().collect::<Vec<_>>(), [1, 2]);
        for v in 3..=7 {
            r.push(v);
        }
        assert_eq!(r.iter().collect::<Vec<_>>(), [5, 6, 7]);
        assert!(r.contains(&6) && !r.contains(&4));
        assert_eq!(r, (5..=7).collect::<Ring<i64, 3>>());
        assert_eq!((1..=7).collect::<Ring<i64, 3>>(), r);
        r.clear();
        assert_eq!(r.len(), 0);
        r.push(9);
        assert_eq!(r.iter().collect::<Vec<_>>(), [9]);
    }
}
