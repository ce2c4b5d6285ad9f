//! Registry state — schemas by id, subjects and their versions, compatibility config — and the
//! JSON file that makes it survive restarts.
//!
//! Every mutation is applied to a copy of the state, written to disk (temp file + fsync +
//! rename), and only then made visible. So a failed write leaves memory and disk agreeing, and
//! an id handed to a client is always an id the next start-up will still know: a producer
//! must never embed an id that a restarted registry later assigns to a different schema.
//!
//! The store is synchronous on purpose: requests are rare, the state is small, and one mutex
//! around it makes every operation trivially atomic. Callers on an async runtime should run
//! mutations on a blocking thread, since they do file I/O under the lock.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{bail, ensure, Context};
use apache_avro::Schema;
use serde::{Deserialize, Serialize};

use crate::compat::{self, CompatibilityLevel};
use crate::error::Error;
use crate::schema::ParsedSchema;

/// Version of the data file layout, bumped on incompatible changes so an old binary refuses a
/// newer file instead of misreading it.
const FORMAT: u32 = 1;

/// Highest version number Confluent accepts (versions are Java ints there).
const MAX_VERSION: u32 = i32::MAX as u32;

/// Which version of a subject a request means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    /// The newest version (newest live one, unless deleted versions were asked for).
    Latest,
    /// An explicit version number.
    Number(u32),
}

/// Accepts what Confluent accepts: `latest`, `-1` (an alias for latest) or `1..=2^31-1`.
impl FromStr for VersionSelector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("latest") || s == "-1" {
            return Ok(Self::Latest);
        }
        s.parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_VERSION).contains(n))
            .map(Self::Number)
            .ok_or_else(|| Error::InvalidVersion(s.to_owned()))
    }
}

impl fmt::Display for VersionSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::Number(n) => write!(f, "{n}"),
        }
    }
}

/// One version of a subject, as reads return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectVersion {
    /// Subject name.
    pub subject: String,
    /// Version number within the subject.
    pub version: u32,
    /// Global schema id.
    pub id: u32,
    /// Schema text as first registered under this id.
    pub schema: String,
}

/// Everything that is persisted. Kept deliberately plain so the file is easy to read and, in a
/// pinch, to edit by hand (start-up validates it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Data {
    format: u32,
    /// Next schema id to hand out; ids are never reused, even after permanent deletes.
    next_id: u32,
    /// Global compatibility level.
    compatibility: CompatibilityLevel,
    schemas: BTreeMap<u32, StoredSchema>,
    subjects: BTreeMap<String, SubjectData>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredSchema {
    schema: String,
}

/// A subject can exist with only a compatibility override and no versions yet, as in
/// Confluent, where the config may be set before the first registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SubjectData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compatibility: Option<CompatibilityLevel>,
    /// Ascending by version number.
    #[serde(default)]
    versions: Vec<VersionEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct VersionEntry {
    version: u32,
    id: u32,
    /// Soft-deleted versions are hidden from reads and compatibility checks, but keep their
    /// number (it is not reused) and their id stays resolvable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

impl Data {
    fn empty() -> Self {
        Self {
            format: FORMAT,
            next_id: 1,
            compatibility: CompatibilityLevel::default(),
            schemas: BTreeMap::new(),
            subjects: BTreeMap::new(),
        }
    }

    /// Subject-level config wins, else the global one.
    fn level_for(&self, subject: &str) -> CompatibilityLevel {
        self.subjects
            .get(subject)
            .and_then(|s| s.compatibility)
            .unwrap_or(self.compatibility)
    }
}

impl SubjectData {
    fn visible(&self, include_deleted: bool) -> impl DoubleEndedIterator<Item = &VersionEntry> {
        self.versions
            .iter()
            .filter(move |v| include_deleted || !v.deleted)
    }

    fn is_unused(&self) -> bool {
        self.versions.is_empty() && self.compatibility.is_none()
    }
}

/// In-memory state: the persisted data plus indexes derived from it.
struct Inner {
    data: Data,
    /// Parsed schemas by id. Never persisted; schemas are immutable once they have an id, so
    /// this only grows.
    parsed: HashMap<u32, Arc<ParsedSchema>>,
    /// Lowest id per schema identity: the id a (re-)registration of that schema gets.
    by_identity: HashMap<String, u32>,
}

impl Inner {
    /// Builds the indexes and checks the data is self-consistent, so a hand-edited or damaged
    /// file fails at start-up instead of producing odd answers later.
    fn build(data: Data) -> anyhow::Result<Self> {
        ensure!(
            data.format == FORMAT,
            "unsupported data format {} (this binary reads format {FORMAT})",
            data.format
        );
        let mut parsed = HashMap::with_capacity(data.schemas.len());
        let mut by_identity = HashMap::with_capacity(data.schemas.len());
        for (&id, stored) in &data.schemas {
            ensure!(
                id >= 1 && id < data.next_id,
                "schema id {id} is outside 1..next_id ({})",
                data.next_id
            );
            let schema = ParsedSchema::parse(&stored.schema)
                .map_err(|e| anyhow::anyhow!("schema {id} does not parse: {e}"))?;
            by_identity.entry(schema.identity.clone()).or_insert(id);
            parsed.insert(id, Arc::new(schema));
        }
        for (name, subject) in &data.subjects {
            let mut previous = 0;
            for entry in &subject.versions {
                if entry.version <= previous || entry.version > MAX_VERSION {
                    bail!(
                        "subject '{name}' has out-of-order or invalid version {}",
                        entry.version
                    );
                }
                previous = entry.version;
                ensure!(
                    parsed.contains_key(&entry.id),
                    "subject '{name}' version {} points at unknown schema id {}",
                    entry.version,
                    entry.id
                );
            }
        }
        Ok(Self {
            data,
            parsed,
            by_identity,
        })
    }

    /// The subject, if it has at least one version visible under `include_deleted`.
    fn subject(&self, name: &str, include_deleted: bool) -> Result<&SubjectData, Error> {
        self.data
            .subjects
            .get(name)
            .filter(|s| s.visible(include_deleted).next().is_some())
            .ok_or_else(|| Error::SubjectNotFound(name.to_owned()))
    }

    fn parsed(&self, id: u32) -> Result<&Arc<ParsedSchema>, Error> {
        // Inner::build and register keep `parsed` in step with the data, so a miss is a bug.
        self.parsed
            .get(&id)
            .ok_or_else(|| Error::Internal(format!("schema id {id} is referenced but not loaded")))
    }

    /// Live versions of `subject` with their parsed schemas, oldest first; empty if none.
    fn live_schemas(&self, subject: &str) -> Result<Vec<(u32, &Schema)>, Error> {
        let Some(data) = self.data.subjects.get(subject) else {
            return Ok(Vec::new());
        };
        data.visible(false)
            .map(|v| Ok((v.version, &self.parsed(v.id)?.schema)))
            .collect()
    }

    /// Newest version of `subject` visible under `include_deleted` whose schema is `identity`.
    fn version_with_identity(
        &self,
        subject: &SubjectData,
        identity: &str,
        include_deleted: bool,
    ) -> Option<VersionEntry> {
        subject
            .visible(include_deleted)
            .rev()
            .find(|v| {
                self.parsed
                    .get(&v.id)
                    .is_some_and(|p| p.identity == identity)
            })
            .cloned()
    }

    fn subject_version(
        &self,
        subject: &str,
        entry: &VersionEntry,
    ) -> Result<SubjectVersion, Error> {
        Ok(SubjectVersion {
            subject: subject.to_owned(),
            version: entry.version,
            id: entry.id,
            schema: self.parsed(entry.id)?.text.clone(),
        })
    }
}

/// The registry state behind a mutex, backed by a JSON file.
pub struct Store {
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Loads the state from `path`, or starts empty and creates the file if it does not exist
    /// (writing it right away, so an unwritable location fails at start-up, not on the first
    /// registration).
    ///
    /// An existing file that is not valid registry data is an error rather than a fresh start:
    /// silently starting over would re-issue ids that messages in Kafka already carry.
    pub fn open(path: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let path = path.into();
        let data = match fs::read(&path) {
            Ok(bytes) => {
                let data: Data = serde_json::from_slice(&bytes).with_context(|| {
                    format!(
                        "schema registry data file {} is corrupt or not a registry data file",
                        path.display()
                    )
                })?;
                data
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let data = Data::empty();
                persist(&path, &data).with_context(|| {
                    format!("cannot create schema registry data file {}", path.display())
                })?;
                tracing::info!(path = %path.display(), "created new schema registry data file");
                data
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot read schema registry data file {}", path.display())
                })
            }
        };
        let inner = Inner::build(data).with_context(|| {
            format!(
                "schema registry data file {} is inconsistent",
                path.display()
            )
        })?;
        tracing::info!(
            path = %path.display(),
            schemas = inner.data.schemas.len(),
            subjects = inner.data.subjects.len(),
            "loaded schema registry state"
        );
        Ok(Self {
            path,
            inner: Mutex::new(inner),
        })
    }

    /// Where the state is persisted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Registers `candidate` under `subject` and returns its global id.
    ///
    /// Idempotent: a schema already live under the subject returns its id without a new
    /// version. A schema known under another subject (or a deleted version) reuses its id.
    /// Otherwise the candidate must pass the subject's compatibility level.
    pub fn register(&self, subject: &str, candidate: ParsedSchema) -> Result<u32, Error> {
        let mut inner = self.lock();
        if let Some(data) = inner.data.subjects.get(subject) {
            if let Some(existing) = inner.version_with_identity(data, &candidate.identity, false) {
                return Ok(existing.id);
            }
        }
        let level = inner.data.level_for(subject);
        let details = {
            let previous = inner.live_schemas(subject)?;
            compat::incompatibilities(level, &candidate.schema, &previous)
        };
        if !details.is_empty() {
            return Err(Error::Incompatible {
                subject: subject.to_owned(),
                details,
            });
        }

        let mut next = inner.data.clone();
        let known_id = inner.by_identity.get(&candidate.identity).copied();
        let id = match known_id {
            Some(id) => id,
            None => {
                let id = next.next_id;
                next.next_id = id
                    .checked_add(1)
                    .ok_or_else(|| Error::Internal("schema id space exhausted".to_owned()))?;
                next.schemas.insert(
                    id,
                    StoredSchema {
                        schema: candidate.text.clone(),
                    },
                );
                id
            }
        };
        let entry = next.subjects.entry(subject.to_owned()).or_default();
        // After the last version ever used, deleted ones included, so numbers are not reused.
        let version = entry.versions.last().map_or(1, |v| v.version + 1);
        if version > MAX_VERSION {
            return Err(Error::Internal(format!(
                "subject '{subject}' ran out of version numbers"
            )));
        }
        entry.versions.push(VersionEntry {
            version,
            id,
            deleted: false,
        });
        self.commit(&mut inner, next)?;
        if known_id.is_none() {
            inner.by_identity.insert(candidate.identity.clone(), id);
            inner.parsed.insert(id, Arc::new(candidate));
        }
        tracing::info!(subject, version, id, %level, "registered schema version");
        Ok(id)
    }

    /// Finds the version of `subject` holding `candidate`.
    pub fn lookup(
        &self,
        subject: &str,
        candidate: &ParsedSchema,
        include_deleted: bool,
    ) -> Result<SubjectVersion, Error> {
        let inner = self.lock();
        let data = inner.subject(subject, include_deleted)?;
        let entry = inner
            .version_with_identity(data, &candidate.identity, include_deleted)
            .ok_or(Error::SchemaNotFound)?;
        inner.subject_version(subject, &entry)
    }

    /// Names of subjects with at least one (live, unless `include_deleted`) version, sorted.
    pub fn subjects(&self, include_deleted: bool) -> Vec<String> {
        let inner = self.lock();
        inner
            .data
            .subjects
            .iter()
            .filter(|(_, s)| s.visible(include_deleted).next().is_some())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Version numbers of `subject`, ascending.
    pub fn versions(&self, subject: &str, include_deleted: bool) -> Result<Vec<u32>, Error> {
        let inner = self.lock();
        Ok(inner
            .subject(subject, include_deleted)?
            .visible(include_deleted)
            .map(|v| v.version)
            .collect())
    }

    /// One version of `subject`.
    pub fn version(
        &self,
        subject: &str,
        selector: VersionSelector,
        include_deleted: bool,
    ) -> Result<SubjectVersion, Error> {
        let inner = self.lock();
        let data = inner.subject(subject, include_deleted)?;
        let mut visible = data.visible(include_deleted);
        let entry = match selector {
            VersionSelector::Latest => visible.next_back(),
            VersionSelector::Number(n) => visible.find(|v| v.version == n),
        }
        .ok_or_else(|| Error::VersionNotFound(selector.to_string()))?;
        inner.subject_version(subject, entry)
    }

    /// Schema text by global id. Ids stay resolvable after their versions are deleted, because
    /// messages written with them may still be in Kafka.
    pub fn schema_by_id(&self, id: u32) -> Result<String, Error> {
        let inner = self.lock();
        inner
            .data
            .schemas
            .get(&id)
            .map(|s| s.schema.clone())
            .ok_or(Error::SchemaIdNotFound(id))
    }

    /// Subjects that have a version with schema `id`.
    pub fn subjects_for_id(&self, id: u32, include_deleted: bool) -> Result<Vec<String>, Error> {
        let inner = self.lock();
        if !inner.data.schemas.contains_key(&id) {
            return Err(Error::SchemaIdNotFound(id));
        }
        Ok(inner
            .data
            .subjects
            .iter()
            .filter(|(_, s)| s.visible(include_deleted).any(|v| v.id == id))
            .map(|(name, _)| name.clone())
            .collect())
    }

    /// Checks `candidate` against `subject` without registering it; returns the problems
    /// (empty = compatible).
    ///
    /// `target: None` checks what a registration would check (latest or all live versions,
    /// per the level); `Some(version)` checks that one version in the level's direction(s).
    /// A subject without versions is compatible with anything for `None` and `latest`, like
    /// Confluent, so "check before first registration" flows work.
    pub fn check_compatibility(
        &self,
        subject: &str,
        target: Option<VersionSelector>,
        candidate: &ParsedSchema,
    ) -> Result<Vec<String>, Error> {
        let inner = self.lock();
        let level = inner.data.level_for(subject);
        let previous = inner.live_schemas(subject)?;
        let against: &[(u32, &Schema)] = match target {
            None => &previous,
            Some(VersionSelector::Latest) => previous
                .last()
                .map(std::slice::from_ref)
                .unwrap_or_default(),
            Some(VersionSelector::Number(n)) => {
                if previous.is_empty() {
                    return Err(Error::SubjectNotFound(subject.to_owned()));
                }
                let one = previous
                    .iter()
                    .find(|(version, _)| *version == n)
                    .ok_or_else(|| Error::VersionNotFound(n.to_string()))?;
                std::slice::from_ref(one)
            }
        };
        Ok(compat::incompatibilities(level, &candidate.schema, against))
    }

    /// The global compatibility level.
    pub fn global_compatibility(&self) -> CompatibilityLevel {
        self.lock().data.compatibility
    }

    /// Sets the global compatibility level.
    pub fn set_global_compatibility(&self, level: CompatibilityLevel) -> Result<(), Error> {
        self.mutate(|data| {
            data.compatibility = level;
            Ok(())
        })?;
        tracing::info!(%level, "set global compatibility");
        Ok(())
    }

    /// The subject-level override, if one is set.
    pub fn subject_compatibility(&self, subject: &str) -> Option<CompatibilityLevel> {
        self.lock()
            .data
            .subjects
            .get(subject)
            .and_then(|s| s.compatibility)
    }

    /// Sets the subject-level override; the subject need not have versions yet.
    pub fn set_subject_compatibility(
        &self,
        subject: &str,
        level: CompatibilityLevel,
    ) -> Result<(), Error> {
        self.mutate(|data| {
            data.subjects
                .entry(subject.to_owned())
                .or_default()
                .compatibility = Some(level);
            Ok(())
        })?;
        tracing::info!(subject, %level, "set subject compatibility");
        Ok(())
    }

    /// Removes the subject-level override and returns what it was.
    pub fn delete_subject_compatibility(&self, subject: &str) -> Result<CompatibilityLevel, Error> {
        self.mutate(|data| {
            let entry = data
                .subjects
                .get_mut(subject)
                .ok_or_else(|| Error::SubjectNotFound(subject.to_owned()))?;
            let previous = entry
                .compatibility
                .take()
                .ok_or_else(|| Error::SubjectCompatibilityNotConfigured(subject.to_owned()))?;
            if entry.is_unused() {
                data.subjects.remove(subject);
            }
            Ok(previous)
        })
    }

    /// Deletes a subject and returns the version numbers affected.
    ///
    /// Soft delete (the default) hides all versions; permanent delete, allowed only after a
    /// soft delete as in Confluent, forgets the subject including its config. Schema ids stay
    /// resolvable either way.
    pub fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<u32>, Error> {
        let deleted = self.mutate(|data| {
            let entry = data
                .subjects
                .get_mut(subject)
                .filter(|s| !s.versions.is_empty())
                .ok_or_else(|| Error::SubjectNotFound(subject.to_owned()))?;
            if permanent {
                if entry.versions.iter().any(|v| !v.deleted) {
                    return Err(Error::SubjectNotSoftDeleted(subject.to_owned()));
                }
                let versions = entry.versions.iter().map(|v| v.version).collect();
                data.subjects.remove(subject);
                Ok(versions)
            } else {
                let versions: Vec<u32> = entry.visible(false).map(|v| v.version).collect();
                if versions.is_empty() {
                    return Err(Error::SubjectSoftDeleted(subject.to_owned()));
                }
                for v in &mut entry.versions {
                    v.deleted = true;
                }
                Ok(versions)
            }
        })?;
        tracing::info!(subject, permanent, ?deleted, "deleted subject");
        Ok(deleted)
    }

    /// Deletes one version of a subject and returns its number; same soft/permanent rules as
    /// [`Store::delete_subject`].
    pub fn delete_version(
        &self,
        subject: &str,
        selector: VersionSelector,
        permanent: bool,
    ) -> Result<u32, Error> {
        let deleted = self.mutate(|data| {
            let entry = data
                .subjects
                .get_mut(subject)
                .filter(|s| !s.versions.is_empty())
                .ok_or_else(|| Error::SubjectNotFound(subject.to_owned()))?;
            let not_found = || Error::VersionNotFound(selector.to_string());
            if permanent {
                let index = match selector {
                    VersionSelector::Latest => entry.versions.len() - 1,
                    VersionSelector::Number(n) => entry
                        .versions
                        .iter()
                        .position(|v| v.version == n)
                        .ok_or_else(not_found)?,
                };
                let version = entry.versions[index].version;
                if !entry.versions[index].deleted {
                    return Err(Error::VersionNotSoftDeleted {
                        subject: subject.to_owned(),
                        version,
                    });
                }
                entry.versions.remove(index);
                if entry.is_unused() {
                    data.subjects.remove(subject);
                }
                Ok(version)
            } else {
                let found = match selector {
                    VersionSelector::Latest => entry.versions.iter_mut().rev().find(|v| !v.deleted),
                    VersionSelector::Number(n) => {
                        entry.versions.iter_mut().find(|v| v.version == n)
                    }
                }
                .ok_or_else(not_found)?;
                if found.deleted {
                    return Err(Error::VersionSoftDeleted {
                        subject: subject.to_owned(),
                        version: found.version,
                    });
                }
                found.deleted = true;
                Ok(found.version)
            }
        })?;
        tracing::info!(
            subject,
            version = deleted,
            permanent,
            "deleted subject version"
        );
        Ok(deleted)
    }

    /// A panic while holding the lock cannot leave half-applied state (mutations swap in a
    /// fully built copy), so a poisoned lock is safe to keep using.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change` to a copy of the data and commits it if anything changed.
    fn mutate<T>(&self, change: impl FnOnce(&mut Data) -> Result<T, Error>) -> Result<T, Error> {
        let mut inner = self.lock();
        let mut next = inner.data.clone();
        let out = change(&mut next)?;
        if next != inner.data {
            self.commit(&mut inner, next)?;
        }
        Ok(out)
    }

    /// Makes `next` durable, then current. On error nothing changed.
    fn commit(&self, inner: &mut Inner, next: Data) -> Result<(), Error> {
        persist(&self.path, &next)
            .map_err(|e| Error::Storage(format!("could not write {}: {e}", self.path.display())))?;
        inner.data = next;
        Ok(())
    }
}

/// Writes `data` to `path` atomically: a reader (or a crash) sees the old file or the new one,
/// never a torn mix.
fn persist(path: &Path, data: &Data) -> io::Result<()> {
    let mut json = serde_json::to_vec_pretty(data).map_err(io::Error::other)?;
    json.push(b'\n');
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "data path has no file name"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Same directory, so the rename cannot cross file systems.
    let tmp = dir.join(format!(".{}.tmp", file_name.to_string_lossy()));
    let written = File::create(&tmp).and_then(|mut file| {
        file.write_all(&json)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        // Best effort: a stale temp file is harmless, it is overwritten next time.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable. The new file is already in place, so failing here must
    // not fail the mutation (memory would then lag behind disk); it only weakens crash safety.
    #[cfg(unix)]
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not fsync data directory");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> ParsedSchema {
        ParsedSchema::parse(text).expect("test schema must parse")
    }

    fn record(fields: &str) -> ParsedSchema {
        parsed(&format!(
            r#"{{"type":"record","name":"R","fields":[{fields}]}}"#
        ))
    }

    #[test]
    fn version_selector_parsing() {
        assert_eq!(
            "latest".parse::<VersionSelector>().ok(),
            Some(VersionSelector::Latest)
        );
        assert_eq!(
            "-1".parse::<VersionSelector>().ok(),
            Some(VersionSelector::Latest)
        );
        assert_eq!(
            "3".parse::<VersionSelector>().ok(),
            Some(VersionSelector::Number(3))
        );
        for bad in ["0", "abc", "-2", "2147483648", ""] {
            assert!(
                matches!(
                    bad.parse::<VersionSelector>(),
                    Err(Error::InvalidVersion(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn state_survives_reopen_and_ids_are_not_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("registry.json");
        {
            let store = Store::open(&path).expect("open");
            assert_eq!(
                store
                    .register("a", record(r#"{"name":"x","type":"int"}"#))
                    .ok(),
                Some(1)
            );
            store
                .set_subject_compatibility("a", CompatibilityLevel::None)
                .expect("config");
            store.delete_subject("a", false).expect("soft delete");
            store.delete_subject("a", true).expect("hard delete");
        }
        let store = Store::open(&path).expect("reopen");
        assert!(store.subjects(true).is_empty());
        assert!(store.subject_compatibility("a").is_none());
        // The id still resolves, and a different schema does not get id 1 again.
        assert!(store.schema_by_id(1).is_ok());
        assert_eq!(
            store
                .register("a", record(r#"{"name":"y","type":"int"}"#))
                .ok(),
            Some(2)
        );
        // Re-registering the first schema finds its old id.
        store
            .set_subject_compatibility("b", CompatibilityLevel::None)
            .expect("config");
        assert_eq!(
            store
                .register("b", record(r#"{"name":"x","type":"int"}"#))
                .ok(),
            Some(1)
        );
    }

    #[test]
    fn soft_deleted_versions_keep_their_numbers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().join("r.json")).expect("open");
        store
            .set_global_compatibility(CompatibilityLevel::None)
            .expect("config");
        store
            .register("s", record(r#"{"name":"x","type":"int"}"#))
            .expect("v1");
        store
            .register("s", record(r#"{"name":"y","type":"int"}"#))
            .expect("v2");
        assert_eq!(
            store
                .delete_version("s", VersionSelector::Latest, false)
                .ok(),
            Some(2)
        );
        assert_eq!(store.versions("s", false).ok(), Some(vec![1]));
        assert_eq!(store.versions("s", true).ok(), Some(vec![1, 2]));
        // Same schema as the deleted v2: same id, new version number.
        let id = store
            .register("s", record(r#"{"name":"y","type":"int"}"#))
            .expect("v3");
        assert_eq!(id, 2);
        assert_eq!(store.versions("s", false).ok(), Some(vec![1, 3]));
        assert!(matches!(
            store.delete_version("s", VersionSelector::Number(1), true),
            Err(Error::VersionNotSoftDeleted { .. })
        ));
    }

    #[test]
    fn corrupt_or_inconsistent_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.json");
        for content in [
            "",
            "{not json",
            r#"{"format":1,"next_id":1,"compatibility":"BACKWARD","schemas":{"1":{"schema":"\"int\""}},"subjects":{}}"#,
            r#"{"format":1,"next_id":2,"compatibility":"BACKWARD","schemas":{"1":{"schema":"nope"}},"subjects":{}}"#,
            r#"{"format":1,"next_id":2,"compatibility":"BACKWARD","schemas":{},"subjects":{"s":{"versions":[{"version":1,"id":1}]}}}"#,
            r#"{"format":99,"next_id":1,"compatibility":"BACKWARD","schemas":{},"subjects":{}}"#,
        ] {
            fs::write(&path, content).expect("write");
            let err = Store::open(&path).expect_err(content);
            assert!(format!("{err:#}").contains("r.json"), "{err:#}");
        }
    }

    #[test]
    fn failed_write_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.json");
        let store = Store::open(&path).expect("open");
        // Replace the data file with a directory: the rename onto it fails.
        fs::remove_file(&path).expect("remove");
        fs::create_dir(&path).expect("mkdir");
        let err = store.register("s", record(r#"{"name":"x","type":"int"}"#));
        assert!(matches!(err, Err(Error::Storage(_))), "{err:?}");
        assert!(store.subjects(true).is_empty());
        fs::remove_dir(&path).expect("rmdir");
        assert_eq!(
            store
                .register("s", record(r#"{"name":"x","type":"int"}"#))
                .ok(),
            Some(1)
        );
    }
}
