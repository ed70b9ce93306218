//! One compose service and the several shapes its keys can take
//! (`command:` as a string or a list, `environment:` as a map or a list,
//! short and long `ports:` and `volumes:` entries).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml::Value;

use super::{nullable, scalar_to_string};

/// One service. Keys the checks do not need are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Service {
    pub image: Option<String>,
    /// Present when compose builds this service's image.
    pub build: Option<Value>,
    pub command: Option<StringOrList>,
    pub environment: Option<Environment>,
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<PortSpec>,
    #[serde(deserialize_with = "nullable")]
    pub volumes: Vec<VolumeSpec>,
    pub healthcheck: Option<Healthcheck>,
    pub depends_on: Option<DependsOn>,
    pub mem_limit: Option<Value>,
    pub deploy: Option<Value>,
    #[serde(deserialize_with = "nullable")]
    pub profiles: Vec<String>,
}

/// `command:` or `test:` written as a string or as a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StringOrList {
    String(String),
    List(Vec<String>),
}

impl StringOrList {
    /// The words: a list as is, a string split on whitespace.
    pub fn words(&self) -> Vec<String> {
        match self {
            StringOrList::String(s) => s.split_whitespace().map(str::to_string).collect(),
            StringOrList::List(l) => l.clone(),
        }
    }
}

/// `environment:` as a map or as a list of `KEY=VALUE`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Environment {
    Map(BTreeMap<String, Value>),
    List(Vec<String>),
}

/// `ports:` entry: `"8080:8080"`, `8080`, or the long form.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PortSpec {
    Short(String),
    Number(u64),
    Long {
        target: u64,
        published: Option<Value>,
    },
}

/// A published port: `host` on the machine forwards to `container`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    /// `None`: compose picks a random host port.
    pub host: Option<u16>,
    pub container: u16,
}

/// `volumes:` entry of a service: `"src:dst[:mode]"` or the long form.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum VolumeSpec {
    Short(String),
    Long {
        #[serde(rename = "type")]
        kind: Option<String>,
        source: Option<String>,
        target: String,
    },
}

/// A mount of a service, resolved from its [`VolumeSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// True for a bind mount of a host path, false for a (named) volume.
    pub bind: bool,
    /// Host path (bind) or volume name; empty for an anonymous volume.
    pub source: String,
    /// Path inside the container.
    pub target: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Healthcheck {
    pub test: Option<StringOrList>,
    pub disable: Option<bool>,
}

/// `depends_on:` as a list (meaning `service_started`) or a map with conditions.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DependsOn {
    List(Vec<String>),
    Map(BTreeMap<String, DependsOnEntry>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DependsOnEntry {
    pub condition: Option<String>,
}

impl Service {
    /// `command:` words (empty when the image's default command runs).
    pub fn command_words(&self) -> Vec<String> {
        self.command
            .as_ref()
            .map(StringOrList::words)
            .unwrap_or_default()
    }

    /// Environment variables; `None` for a name listed without a value
    /// (compose passes it through from the shell).
    pub fn env(&self) -> BTreeMap<String, Option<String>> {
        match &self.environment {
            None => BTreeMap::new(),
            Some(Environment::Map(map)) => map
                .iter()
                .map(|(k, v)| (k.clone(), scalar_to_string(v)))
                .collect(),
            Some(Environment::List(list)) => list
                .iter()
                .map(|item| match item.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (item.clone(), None),
                })
                .collect(),
        }
    }

    /// The value of one environment variable, if it has one.
    pub fn env_var(&self, name: &str) -> Option<String> {
        self.env().remove(name).flatten()
    }

    /// Published ports, or a sentence about the entry that cannot be read.
    pub fn port_mappings(&self) -> Vec<Result<PortMapping, String>> {
        self.ports.iter().map(parse_port).collect()
    }

    /// The service's mounts.
    pub fn mounts(&self) -> Vec<Mount> {
        self.volumes.iter().map(parse_volume).collect()
    }

    /// True when a healthcheck is defined and not disabled.
    pub fn has_healthcheck(&self) -> bool {
        let Some(hc) = &self.healthcheck else {
            return false;
        };
        let words = hc
            .test
            .as_ref()
            .map(StringOrList::words)
            .unwrap_or_default();
        hc.disable != Some(true) && !words.is_empty() && words[0] != "NONE"
    }

    /// `(dependency, condition)` pairs; the list form means `service_started`.
    pub fn dependencies(&self) -> Vec<(String, String)> {
        match &self.depends_on {
            None => Vec::new(),
            Some(DependsOn::List(l)) => l
                .iter()
                .map(|s| (s.clone(), "service_started".to_string()))
                .collect(),
            Some(DependsOn::Map(m)) => m
                .iter()
                .map(|(s, e)| {
                    let condition = e.condition.as_deref().unwrap_or("service_started");
                    (s.clone(), condition.to_string())
                })
                .collect(),
        }
    }

    /// `mem_limit`, or `deploy.resources.limits.memory`.
    pub fn memory_limit(&self) -> Option<String> {
        let deploy = self
            .deploy
            .as_ref()
            .and_then(|d| d.get("resources")?.get("limits")?.get("memory"));
        self.mem_limit
            .as_ref()
            .or(deploy)
            .and_then(scalar_to_string)
            .filter(|s| !s.is_empty())
    }
}

fn parse_port(spec: &PortSpec) -> Result<PortMapping, String> {
    let port = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("`{s}` is not a port number"))
    };
    match spec {
        PortSpec::Number(n) => Ok(PortMapping {
            host: None,
            container: port(&n.to_string())?,
        }),
        PortSpec::Long { target, published } => Ok(PortMapping {
            host: match published.as_ref().and_then(scalar_to_string) {
                Some(p) => Some(port(&p)?),
                None => None,
            },
            container: port(&target.to_string())?,
        }),
        PortSpec::Short(s) => {
            let without_protocol = s.split('/').next().unwrap_or(s);
            let parts: Vec<&str> = without_protocol.rsplitn(3, ':').collect();
            match parts.as_slice() {
                [container] => Ok(PortMapping {
                    host: None,
                    container: port(container)?,
                }),
                [container, host] | [container, host, _] => Ok(PortMapping {
                    host: Some(port(host)?),
                    container: port(container)?,
                }),
                _ => Err(format!("cannot read the port entry `{s}`")),
            }
        }
    }
}

fn parse_volume(spec: &VolumeSpec) -> Mount {
    match spec {
        VolumeSpec::Long {
            kind,
            source,
            target,
        } => Mount {
            bind: kind.as_deref() == Some("bind"),
            source: source.clone().unwrap_or_default(),
            target: target.clone(),
        },
        VolumeSpec::Short(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.as_slice() {
                [target] => Mount {
                    bind: false,
                    source: String::new(),
                    target: target.to_string(),
                },
                [source, target, ..] => Mount {
                    bind: source.starts_with(['.', '/', '~']),
                    source: source.to_string(),
                    target: target.to_string(),
                },
                [] => Mount {
                    bind: false,
                    source: String::new(),
                    target: String::new(),
                },
            }
        }
    }
}
