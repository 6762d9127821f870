//! Criterion benchmark of DKIM signing as the last outbound stage: what it adds per message to
//! S/MIME sign+encrypt (RSA-2048 S/MIME key, one recipient, AES-256-CBC), for an RSA-2048 and an
//! Ed25519 DKIM key, 10 KB and 1 MB messages. Run with `bench/dkim.sh`.

#[path = "../tests/smime_common/mod.rs"]
mod smime_common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use segl::dkim::{self, Algorithm, SigningKey};
use segl::smime::{self, EncryptOptions, SignOptions};

fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: bench\r\nDate: Mon, 30 Nov 2026 20:00:00 +0000\r\nMessage-ID: <bench@example.org>\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n".to_vec();
    let line = b"The quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUV\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m
}

fn bench(c: &mut Criterion) {
    let fx = smime_common::Fixture::new();
    let alice = fx.key("alice");
    let bob = vec![fx.cert("bob").into()];
    let cfg = segl::config::Config::default_config().dkim;
    let keys: Vec<(&str, SigningKey)> = [("rsa", Algorithm::Rsa), ("ed25519", Algorithm::Ed25519)]
        .into_iter()
        .map(|(n, a)| {
            let m = dkim::key::generate(a).unwrap();
            (n, SigningKey::from_pkcs8(a, &m.pkcs8).unwrap())
        })
        .collect();
    let params = dkim::sign::Params {
        domain: "example.org",
        selector: "bench",
        headers: &cfg.headers,
        oversign: &cfg.oversign,
        expire_days: 0,
    };
    let mut eo = EncryptOptions::default();
    eo.include_sender = false;
    let so = SignOptions::default();
    let mut g = c.benchmark_group("dkim");
    g.sample_size(20);
    for (label, size) in [("10KB", 10 * 1024), ("1MB", 1024 * 1024)] {
        let msg = message(size);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("sign+encrypt", label), |b| {
            b.iter(|| {
                smime::sign_and_encrypt(black_box(&msg), &alice, &[], &bob, &so, &eo).unwrap()
            })
        });
        for (name, key) in &keys {
            g.bench_function(
                BenchmarkId::new(format!("sign+encrypt+dkim-{name}"), label),
                |b| {
                    b.iter(|| {
                        let out =
                            smime::sign_and_encrypt(black_box(&msg), &alice, &[], &bob, &so, &eo)
                                .unwrap();
                        dkim::sign::sign(key, &params, &out).unwrap()
                    })
                },
            );
            let out = smime::sign_and_encrypt(&msg, &alice, &[], &bob, &so, &eo).unwrap();
            g.bench_function(BenchmarkId::new(format!("dkim-{name} alone"), label), |b| {
                b.iter(|| dkim::sign::sign(key, &params, black_box(&out)).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
