//! Roles and camera grants: what a user, a device or a ticket may do and see.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Result, StoreError};

/// What a user may do, in increasing order: `Viewer < Operator < Admin`. Each role
/// may do everything the ones below it may. Written `viewer`, `operator`, `admin`
/// (in the database, the CLI and JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Watches the cameras it is granted.
    Viewer,
    /// Also moves them (PTZ) and acknowledges alerts.
    Operator,
    /// Also manages users, keys, devices and every share link.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// Whether this role is enough for something that needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| {
                StoreError::Invalid(format!("unknown role {s:?}: use viewer, operator or admin"))
            })
    }
}

impl ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Role {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Role> {
        value
            .as_str()?
            .parse()
            .map_err(|e: StoreError| FromSqlError::Other(Box::new(e)))
    }
}

/// The cameras something may see: all of them, or a set of camera ids.
///
/// Text form (database, CLI, config): `*` for all, otherwise the ids separated by
/// commas (`front,back`), spaces around ids ignored; the empty string is the empty
/// set (no camera). Ids may not be empty, contain a comma or control characters, or
/// be `*`.
///
/// JSON form: `"*"` for all, a sorted list of ids otherwise (`["back","front"]`),
/// which is what a web page wants to iterate. Deserializing also accepts the text
/// form as a string (`"front,back"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CameraGrant {
    /// Every camera, including ones added later.
    All,
    /// Only these camera ids.
    Only(BTreeSet<String>),
}

impl CameraGrant {
    /// No camera at all.
    pub fn none() -> CameraGrant {
        CameraGrant::Only(BTreeSet::new())
    }

    /// Parses the text form (see the type's documentation).
    pub fn parse(text: &str) -> Result<CameraGrant> {
        let text = text.trim();
        if text == "*" {
            return Ok(CameraGrant::All);
        }
        if text.is_empty() {
            return Ok(CameraGrant::none());
        }
        text.split(',')
            .map(|id| {
                let id = id.trim();
                check_camera_id(id)?;
                Ok(id.to_owned())
            })
            .collect::<Result<_>>()
            .map(CameraGrant::Only)
    }

    /// A grant of exactly these ids, each checked like in [`CameraGrant::parse`].
    pub fn only<I, S>(ids: I) -> Result<CameraGrant>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ids.into_iter()
            .map(|id| {
                let id = id.into();
                check_camera_id(&id)?;
                Ok(id)
            })
            .collect::<Result<_>>()
            .map(CameraGrant::Only)
    }

    /// Whether the grant covers `camera`.
    pub fn allows(&self, camera: &str) -> bool {
        match self {
            CameraGrant::All => true,
            CameraGrant::Only(ids) => ids.contains(camera),
        }
    }

    /// The cameras both grants cover (e.g. a ticket's cameras within its issuer's).
    pub fn intersect(&self, other: &CameraGrant) -> CameraGrant {
        match (self, other) {
            (CameraGrant::All, other) | (other, CameraGrant::All) => other.clone(),
            (CameraGrant::Only(a), CameraGrant::Only(b)) => {
                CameraGrant::Only(a.intersection(b).cloned().collect())
            }
        }
    }

    /// Whether the grant covers no camera.
    pub fn is_empty(&self) -> bool {
        matches!(self, CameraGrant::Only(ids) if ids.is_empty())
    }
}

/// Checks one camera id as it may appear in a grant or a share.
pub(crate) fn check_camera_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(StoreError::Invalid(
            "a camera list has an empty camera id: write ids separated by single commas, or * for all cameras".into(),
        ));
    }
    if id == "*" {
        return Err(StoreError::Invalid(
            "* means all cameras and must stand alone, not in a list".into(),
        ));
    }
    if id.len() > 128 || id.trim() != id || id.contains(',') || id.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{id:?} is not a valid camera id: at most 128 bytes, no commas, no control characters, no spaces around it"
        )));
    }
    Ok(())
}

impl fmt::Display for CameraGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CameraGrant::All => f.write_str("*"),
            CameraGrant::Only(ids) => {
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(id)?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for CameraGrant {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<CameraGrant> {
        CameraGrant::parse(s)
    }
}

impl Serialize for CameraGrant {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            CameraGrant::All => serializer.serialize_str("*"),
            CameraGrant::Only(ids) => serializer.collect_seq(ids),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GrantRepr {
    Text(String),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for CameraGrant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        match GrantRepr::deserialize(deserializer)? {
            GrantRepr::Text(text) => CameraGrant::parse(&text),
            GrantRepr::List(ids) => CameraGrant::only(ids),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl ToSql for CameraGrant {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for CameraGrant {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<CameraGrant> {
        CameraGrant::parse(value.as_str()?).map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Operator));
        assert!(!Role::Viewer.allows(Role::Operator));
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>().expect("parses"), role);
            let json = serde_json::to_string(&role).expect("json");
            assert_eq!(json, format!("\"{role}\""));
            assert_eq!(serde_json::from_str::<Role>(&json).expect("json"), role);
        }
        assert!("Admin".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn grants_parse_and_print() {
        assert_eq!(CameraGrant::parse(" * ").expect("all"), CameraGrant::All);
        let g = CameraGrant::parse(" front , back,front").expect("list");
        assert_eq!(g.to_string(), "back,front");
        assert_eq!(CameraGrant::parse(&g.to_string()).expect("again"), g);
        assert!(g.allows("front") && g.allows("back") && !g.allows("side"));
        assert!(CameraGrant::All.allows("anything"));
        assert_eq!(CameraGrant::parse("").expect("none"), CameraGrant::none());
        assert!(CameraGrant::none().is_empty());
        assert!(!CameraGrant::none().allows(""));
        for bad in ["a,,b", "a,", ",a", "a,*", "a,b\nc"] {
            assert!(
                matches!(CameraGrant::parse(bad), Err(StoreError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn grants_intersect() {
        let ab = CameraGrant::parse("a,b").expect("grant");
        let bc = CameraGrant::parse("b,c").expect("grant");
        assert_eq!(ab.intersect(&bc), CameraGrant::parse("b").expect("grant"));
        assert_eq!(CameraGrant::All.intersect(&ab), ab);
        assert_eq!(ab.intersect(&CameraGrant::All), ab);
        assert_eq!(
            CameraGrant::All.intersect(&CameraGrant::All),
            CameraGrant::All
        );
        assert!(ab
            .intersect(&CameraGrant::parse("z").expect("grant"))
            .is_empty());
    }

    #[test]
    fn grants_in_json() {
        let g = CameraGrant::parse("front,back").expect("grant");
        assert_eq!(
            serde_json::to_string(&g).expect("json"),
            r#"["back","front"]"#
        );
        assert_eq!(
            serde_json::to_string(&CameraGrant::All).expect("json"),
            r#""*""#
        );
        let from_list: CameraGrant = serde_json::from_str(r#"["front","back"]"#).expect("list");
        let from_text: CameraGrant = serde_json::from_str(r#""back, front""#).expect("text");
        assert_eq!(from_list, g);
        assert_eq!(from_text, g);
        assert_eq!(
            serde_json::from_str::<CameraGrant>(r#""*""#).expect("all"),
            CameraGrant::All
        );
        assert!(serde_json::from_str::<CameraGrant>(r#"["a",""]"#).is_err());
        assert!(serde_json::from_str::<CameraGrant>(r#"["*"]"#).is_err());
    }
}
