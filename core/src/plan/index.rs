//! The fleet indexed for the planner: which resources carry each `ScheduleName`
//! value, in which places, and a digest of everything membership depends on.
//!
//! Building it walks the whole fleet once. A pass that plans a handful of schedules
//! of a large fleet then looks up only their resources, and a fleet whose tags did not
//! change since the misfits were last checked is not walked again. An adapter whose
//! fleet keeps its tags (the simulator's) builds it once and hands the same one out.

use std::collections::{BTreeSet, HashMap};

use crate::fleet::{Instance, Power};
use crate::schedule::{GROUP_TAG, SCHEDULE_TAG, Schedule, auto_scaled, never_scheduled, protected};

/// The positions in a fleet of the resources that carry each `ScheduleName` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetIndex {
    by_tag: HashMap<String, Vec<Tagged>>,
    places: HashMap<String, BTreeSet<String>>,
    /// How many resources the fleet had when indexed: an index is only used with
    /// the fleet it was built from.
    len: usize,
    digest: String,
}

/// A resource carrying a `ScheduleName` value, with what its membership needs from
/// its other tags, read once: looking up a schedule's groups on every pass of a
/// start then costs no tag lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tagged {
    /// Its position in the fleet.
    at: usize,
    /// Its `ScheduleGroupName`, if any.
    group: Option<String>,
    /// Protected, or an Auto Scaling group's instance: never a member.
    never: bool,
}

impl FleetIndex {
    /// Indexes `fleet`.
    pub fn build(fleet: &[Instance]) -> FleetIndex {
        let mut by_tag: HashMap<String, Vec<Tagged>> = HashMap::new();
        let mut places: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut digest = Digest::default();
        for (k, i) in fleet.iter().enumerate() {
            let Some(tag) = i.tags.get(SCHEDULE_TAG) else {
                continue;
            };
            by_tag.entry(tag.clone()).or_default().push(Tagged {
                at: k,
                group: i.tags.get(GROUP_TAG).cloned(),
                never: never_scheduled(i),
            });
            places
                .entry(tag.clone())
                .or_default()
                .insert(i.place().to_string());
            // Everything that decides whether a resource is a member of a group.
            digest.add(&i.id);
            digest.add(tag);
            digest.add(i.tags.get(GROUP_TAG).map_or("", String::as_str));
            digest.add(&i.kind.to_string());
            digest.add(if protected(&i.tags) { "p" } else { "" });
            digest.add(auto_scaled(i).unwrap_or(""));
            digest.add(if i.power == Power::Gone { "g" } else { "" });
        }
        FleetIndex {
            by_tag,
            places,
            len: fleet.len(),
            digest: digest.finish(),
        }
    }

    /// Whether this index was built from a fleet of this size (the cheap check that
    /// it belongs to it).
    pub fn fits(&self, fleet: &[Instance]) -> bool {
        self.len == fleet.len()
    }

    /// The resources of `fleet` tagged `ScheduleName` = `tag`.
    pub fn tagged<'a>(&self, fleet: &'a [Instance], tag: &str) -> Vec<&'a Instance> {
        self.by_tag
            .get(tag)
            .map(|ks| ks.iter().filter_map(|k| fleet.get(k.at)).collect())
            .unwrap_or_default()
    }

    /// `s`'s resources among `fleet`, per group in the schedule's group order: what
    /// [`Schedule::members`] finds, by [`Schedule::group_of_instance`]'s rule, from
    /// the tags as indexed.
    pub fn members<'a>(&self, fleet: &'a [Instance], s: &Schedule) -> Vec<Vec<&'a Instance>> {
        let mut groups = vec![Vec::new(); s.groups.len()];
        for t in self.by_tag.get(&s.tag_value).into_iter().flatten() {
            let Some(i) = fleet.get(t.at) else {
                continue;
            };
            if t.never || i.power == Power::Gone {
                continue;
            }
            if let Some(g) = s.group_of(t.group.as_deref(), i.kind) {
                groups[g].push(i);
            }
        }
        groups
    }

    /// The places (`account/region`, `""` for the function's own) of the resources
    /// tagged `tag`.
    pub fn places(&self, tag: &str) -> BTreeSet<String> {
        self.places.get(tag).cloned().unwrap_or_default()
    }

    /// A digest of the tags, kinds and presence of every tagged resource: equal
    /// digests, equal memberships.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

/// A 64-bit hash over strings, a word at a time, each string closed by its length:
/// stable across builds and versions, unlike the standard library's hasher, so that
/// digests can be stored. Every pass takes one over the catalog's digests, so it is
/// taken eight bytes per step rather than one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Digest(0xcbf2_9ce4_8422_2325)
    }
}

impl Digest {
    /// Adds a string and its length (so that `"ab", "c"` and `"a", "bc"` differ).
    pub(crate) fn add(&mut self, text: &str) {
        let mut words = text.as_bytes().chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().unwrap_or_default()));
        }
        let mut tail = [0u8; 8];
        tail[..words.remainder().len()].copy_from_slice(words.remainder());
        self.word(u64::from_le_bytes(tail));
        self.word(text.len() as u64);
    }

    fn word(&mut self, w: u64) {
        // Multiplying carries each bit up; the rotation brings the high bits back
        // down, so that every bit of the input reaches every bit of the digest.
        self.0 = (self.0 ^ w)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }

    /// The digest, as 16 hex digits.
    pub(crate) fn finish(self) -> String {
        format!("{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Kind;

    fn instance(id: &str, tags: &[(&str, &str)]) -> Instance {
        let tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Instance::new(id, Kind::Ec2, tags, Power::Stopped)
    }

    #[test]
    fn the_index_finds_a_tags_resources_and_the_digest_follows_membership() {
        let fleet = vec![
            instance(
                "a",
                &[("ScheduleName", "Dev"), ("ScheduleGroupName", "API")],
            ),
            instance("b", &[("Name", "bastion")]),
            instance("c@222222222222/eu-west-1", &[("ScheduleName", "Dev")]),
        ];
        let index = FleetIndex::build(&fleet);
        let ids: Vec<&str> = index
            .tagged(&fleet, "Dev")
            .iter()
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "c@222222222222/eu-west-1"]);
        assert_eq!(
            index.places("Dev"),
            BTreeSet::from(["".to_string(), "222222222222/eu-west-1".to_string()])
        );
        // A change of power is no change of membership; a change of group tag is.
        let mut up = fleet.clone();
        up[0].power = Power::Running;
        assert_eq!(FleetIndex::build(&up).digest(), index.digest());
        let mut moved = fleet.clone();
        moved[0]
            .tags
            .insert("ScheduleGroupName".into(), "DB".into());
        assert_ne!(FleetIndex::build(&moved).digest(), index.digest());
    }

    #[test]
    fn a_digest_tells_where_one_string_ends_and_the_next_begins() {
        let of = |parts: &[&str]| {
            let mut d = Digest::default();
            for p in parts {
                d.add(p);
            }
            d.finish()
        };
        assert_eq!(of(&["Env0001", "DB"]), of(&["Env0001", "DB"]));
        assert_ne!(of(&["ab", "c"]), of(&["a", "bc"]));
        assert_ne!(of(&["a", ""]), of(&["a"]));
        // Past a whole word, and a tail of zero bytes against no tail.
        assert_ne!(of(&["0123456789abcdef"]), of(&["0123456789abcdeg"]));
        assert_ne!(of(&["01234567"]), of(&["01234567\0"]));
    }
}
