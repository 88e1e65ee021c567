//! A writer for small MaxMind-format country databases, so tests can map addresses to countries
//! without a downloaded database. It writes an IPv4 tree with 24-bit records, one data record per
//! country (`{"country": {"iso_code": ..}}`), and the metadata that readers require, following
//! the MaxMind DB format specification 2.0.

use std::net::Ipv4Addr;

const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

/// Builds a database that maps each `(network, prefix length)` to a country code.
pub fn country_database(networks: &[(Ipv4Addr, u8, &str)]) -> Vec<u8> {
    let mut tree = Tree::default();
    let mut data = Vec::new();
    for (network, prefix, country) in networks {
        let offset = data.len();
        data.extend(country_record(country));
        tree.insert(u32::from(*network), *prefix, offset);
    }

    let node_count = tree.nodes.len() as u32;
    let mut out = Vec::new();
    for node in &tree.nodes {
        for record in node {
            let value = match record {
                Record::Empty => node_count,
                Record::Node(index) => *index as u32,
                Record::Data(offset) => node_count + 16 + *offset as u32,
            };
            out.extend_from_slice(&value.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend(data);
    out.extend_from_slice(METADATA_MARKER);
    out.extend(metadata(node_count));
    out
}

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(usize),
    Data(usize),
}

#[derive(Default)]
struct Tree {
    nodes: Vec<[Record; 2]>,
}

impl Tree {
    fn insert(&mut self, address: u32, prefix: u8, data_offset: usize) {
        if self.nodes.is_empty() {
            self.nodes.push([Record::Empty; 2]);
        }
        let mut node = 0;
        for depth in 0..prefix {
            let bit = ((address >> (31 - depth)) & 1) as usize;
            if depth + 1 == prefix {
                self.nodes[node][bit] = Record::Data(data_offset);
                return;
            }
            node = match self.nodes[node][bit] {
                Record::Node(next) => next,
                _ => {
                    self.nodes.push([Record::Empty; 2]);
                    let next = self.nodes.len() - 1;
                    self.nodes[node][bit] = Record::Node(next);
                    next
                }
            };
        }
    }
}

fn country_record(iso_code: &str) -> Vec<u8> {
    let mut out = map_header(1);
    out.extend(string("country"));
    out.extend(map_header(1));
    out.extend(string("iso_code"));
    out.extend(string(iso_code));
    out
}

fn metadata(node_count: u32) -> Vec<u8> {
    let mut out = map_header(9);
    out.extend(string("node_count"));
    out.extend(unsigned(6, u64::from(node_count)));
    out.extend(string("record_size"));
    out.extend(unsigned(5, 24));
    out.extend(string("ip_version"));
    out.extend(unsigned(5, 4));
    out.extend(string("database_type"));
    out.extend(string("linkyard-Test-Country"));
    out.extend(string("languages"));
    out.extend(extended_header(11, 1));
    out.extend(string("en"));
    out.extend(string("binary_format_major_version"));
    out.extend(unsigned(5, 2));
    out.extend(string("binary_format_minor_version"));
    out.extend(unsigned(5, 0));
    out.extend(string("build_epoch"));
    out.extend(extended_unsigned(9, 1_700_000_000));
    out.extend(string("description"));
    out.extend(map_header(1));
    out.extend(string("en"));
    out.extend(string("linkyard test data"));
    out
}

/// A control byte for `kind` (1 to 7) and a payload of `size` < 29 bytes or entries.
fn header(kind: u8, size: usize) -> Vec<u8> {
    assert!(size < 29, "the test writer only writes short values");
    vec![(kind << 5) | size as u8]
}

fn extended_header(kind: u8, size: usize) -> Vec<u8> {
    assert!(size < 29, "the test writer only writes short values");
    vec![size as u8, kind - 7]
}

fn map_header(entries: usize) -> Vec<u8> {
    header(7, entries)
}

fn string(text: &str) -> Vec<u8> {
    let mut out = header(2, text.len());
    out.extend_from_slice(text.as_bytes());
    out
}

fn minimal_bytes(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let first = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

fn unsigned(kind: u8, value: u64) -> Vec<u8> {
    let bytes = minimal_bytes(value);
    let mut out = header(kind, bytes.len());
    out.extend(bytes);
    out
}

fn extended_unsigned(kind: u8, value: u64) -> Vec<u8> {
    let bytes = minimal_bytes(value);
    let mut out = extended_header(kind, bytes.len());
    out.extend(bytes);
    out
}
