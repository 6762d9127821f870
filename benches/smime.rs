//! Criterion benchmark of the S/MIME engine: sign, encrypt, decrypt, verify for 10 KB and
//! 1 MB messages (RSA-2048, AES-256-CBC). Keys and CA are made with openssl at start-up.

#[path = "../tests/smime_common/mod.rs"]
mod smime_common;

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use segl::smime::{self, EncryptOptions, SignOptions};

fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: bench\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n".to_vec();
    let line = b"The quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUV\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m
}

fn bench(c: &mut Criterion) {
    let fx = smime_common::Fixture::new();
    let alice = fx.key("alice");
    let bob_keys = vec![fx.key("bob")];
    let bob = vec![fx.cert("bob").into()];
    let anchors = [fx.ca()];
    let now = SystemTime::now();
    let mut g = c.benchmark_group("smime");
    g.sample_size(20);
    for (label, size) in [("10KB", 10 * 1024), ("1MB", 1024 * 1024)] {
        let msg = message(size);
        g.throughput(Throughput::Bytes(size as u64));
        let signed = smime::sign(&msg, &alice, &[], &SignOptions::default()).unwrap();
        let mut eo = EncryptOptions::default();
        eo.include_sender = false;
        let enc = smime::encrypt(&msg, &bob, &eo).unwrap();
        g.bench_function(BenchmarkId::new("sign", label), |b| {
            b.iter(|| smime::sign(black_box(&msg), &alice, &[], &SignOptions::default()).unwrap())
        });
        g.bench_function(BenchmarkId::new("encrypt", label), |b| {
            b.iter(|| smime::encrypt(black_box(&msg), &bob, &eo).unwrap())
        });
        g.bench_function(BenchmarkId::new("decrypt", label), |b| {
            b.iter(|| smime::decrypt(black_box(&enc), &bob_keys).unwrap())
        });
        g.bench_function(BenchmarkId::new("verify", label), |b| {
            b.iter(|| smime::verify(black_box(&signed), &anchors, &[], now).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
