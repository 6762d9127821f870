//! Criterion benchmark of the spool's message checksum (`segl::spool::checksum`, CRC-32): what
//! it adds per message at acceptance (computed while the data is written) and at each read for
//! processing and delivery, for a 10 KB and a 1 MB message. `cargo bench --bench checksum`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use segl::spool::checksum;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("spool_checksum");
    for size in [10 * 1024usize, 1024 * 1024] {
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("crc32", size), &data, |b, d| {
            b.iter(|| checksum::of(black_box(d)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
