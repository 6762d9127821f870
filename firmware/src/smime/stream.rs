//! Streaming building blocks for large mail (issue 15: a 25 MB message in less than four times
//! its size of memory).
//!
//! A message to be signed or encrypted is handled as a list of *pieces*: small owned header
//! blocks and slices borrowed from the spooled message, in order. Hashing, CBC encryption and
//! base64 run over the pieces in 64 KiB steps, and the result is written once, into an output
//! buffer reserved at its exact final size. So the content is never copied into an entity, a
//! ciphertext, a DER encoding and a base64 string one after the other; only the input and the
//! output exist whole.

use std::borrow::Cow;

use aes::{Aes128, Aes192, Aes256};
use base64::Engine;
use cbc::cipher::array::Array;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};

use super::content_cipher::ContentCipher;
use super::error::{Result, SmimeError};

/// How much plaintext is encrypted per step (a multiple of every block size).
const STEP: usize = 64 * 1024;

/// Input bytes per base64 line (76 characters, RFC 2045).
const B64_LINE_IN: usize = 57;

/// The content of a MIME entity as consecutive pieces, each either owned or borrowed.
#[derive(Debug, Default)]
pub(crate) struct Pieces<'a>(Vec<Cow<'a, [u8]>>);

impl<'a> Pieces<'a> {
    /// Appends an owned piece (headers, boundaries, an encoded signature).
    pub fn owned(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.0.push(Cow::Owned(bytes));
        }
    }

    /// Appends a borrowed piece (the body of the spooled message).
    pub fn borrowed(&mut self, bytes: &'a [u8]) {
        if !bytes.is_empty() {
            self.0.push(Cow::Borrowed(bytes));
        }
    }

    /// Appends all pieces of `other`.
    pub fn append(&mut self, other: Pieces<'a>) {
        self.0.extend(other.0);
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.0.iter().map(|p| p.len()).sum()
    }

    /// The pieces in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().map(|p| p.as_ref())
    }

    /// Writes every piece to `out` (reserving the exact room first).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.len());
        for p in self.iter() {
            out.extend_from_slice(p);
        }
    }

    /// The pieces joined into one buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

/// [`super::mime::join_outer`] for an entity in pieces: one buffer of the final size.
pub(crate) fn join_outer_pieces(
    outer_headers: &[u8],
    entity: &super::stream::Pieces<'_>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(outer_headers.len() + entity.len() + 40);
    out.extend_from_slice(&super::mime::to_crlf(outer_headers));
    super::mime::write_header(&mut out, "MIME-Version", "1.0");
    entity.write_to(&mut out);
    out
}

/// Length of the base64 encoding of `n` bytes in lines of 76 characters plus CRLF.
pub(crate) fn base64_lines_len(n: usize) -> usize {
    let full = n / B64_LINE_IN;
    let rest = n % B64_LINE_IN;
    full * 78
        + if rest > 0 {
            rest.div_ceil(3) * 4 + 2
        } else {
            0
        }
}

/// Writes base64 in lines of 76 characters (CRLF-terminated) to a buffer, from input given in
/// pieces of any size. The output is the same as [`super::mime::append_base64_lines`] over the
/// whole input.
pub(crate) struct Base64Lines<'o> {
    out: &'o mut Vec<u8>,
    held: [u8; B64_LINE_IN],
    n: usize,
    line: String,
}

impl<'o> Base64Lines<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        Self {
            out,
            held: [0; B64_LINE_IN],
            n: 0,
            line: String::with_capacity(80),
        }
    }

    fn emit(&mut self, chunk: &[u8]) {
        self.line.clear();
        base64::engine::general_purpose::STANDARD.encode_string(chunk, &mut self.line);
        self.out.extend_from_slice(self.line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Encodes `data`, keeping an incomplete last line for the next call.
    pub fn write(&mut self, mut data: &[u8]) {
        if self.n > 0 {
            let take = (B64_LINE_IN - self.n).min(data.len());
            self.held[self.n..self.n + take].copy_from_slice(&data[..take]);
            self.n += take;
            data = &data[take..];
            if self.n < B64_LINE_IN {
                return;
            }
            let held = self.held;
            self.emit(&held);
            self.n = 0;
        }
        let mut chunks = data.chunks_exact(B64_LINE_IN);
        for c in &mut chunks {
            self.emit(c);
        }
        let rest = chunks.remainder();
        self.held[..rest.len()].copy_from_slice(rest);
        self.n = rest.len();
    }

    /// Writes the last (short) line.
    pub fn finish(mut self) {
        if self.n > 0 {
            let held = self.held;
            let n = self.n;
            self.emit(&held[..n]);
        }
    }
}

/// Length of the CBC ciphertext (PKCS#7 padding) of `n` bytes.
pub(crate) fn cbc_ciphertext_len(cipher: ContentCipher, n: usize) -> usize {
    let b = if cipher == ContentCipher::DesEde3Cbc {
        8
    } else {
        16
    };
    (n / b + 1) * b
}

/// Encrypts the pieces of `input` with `cipher` in CBC mode (PKCS#7 padding) and hands the
/// ciphertext to `out` in steps of at most 64 KiB.
pub(crate) fn cbc_encrypt_pieces(
    cipher: ContentCipher,
    key: &[u8],
    iv: &[u8],
    input: &Pieces<'_>,
    out: &mut dyn FnMut(&[u8]),
) -> Result<()> {
    match cipher {
        ContentCipher::Aes128Cbc => run(
            cbc::Encryptor::<Aes128>::new_from_slices(key, iv),
            input,
            out,
        ),
        ContentCipher::Aes192Cbc => run(
            cbc::Encryptor::<Aes192>::new_from_slices(key, iv),
            input,
            out,
        ),
        ContentCipher::Aes256Cbc => run(
            cbc::Encryptor::<Aes256>::new_from_slices(key, iv),
            input,
            out,
        ),
        ContentCipher::DesEde3Cbc => run(
            cbc::Encryptor::<des::TdesEde3>::new_from_slices(key, iv),
            input,
            out,
        ),
        _ => Err(SmimeError::UnsupportedAlgorithm(format!(
            "{} is not CBC",
            cipher.name()
        ))),
    }
}

fn run<M: BlockModeEncrypt, E>(
    mode: std::result::Result<M, E>,
    input: &Pieces<'_>,
    out: &mut dyn FnMut(&[u8]),
) -> Result<()> {
    let mut mode = mode.map_err(|_| SmimeError::Encoding("bad key or IV length".into()))?;
    let bs = M::block_size();
    let mut buf = vec![0u8; STEP];
    let mut n = 0;
    for mut piece in input.iter() {
        while !piece.is_empty() {
            let take = (STEP - n).min(piece.len());
            buf[n..n + take].copy_from_slice(&piece[..take]);
            n += take;
            piece = &piece[take..];
            if n == STEP {
                encrypt_blocks(&mut mode, &mut buf);
                out(&buf);
                n = 0;
            }
        }
    }
    // PKCS#7: 1..=bs bytes of the pad length; `n < STEP` and STEP is a multiple of bs.
    let pad = bs - n % bs;
    buf[n..n + pad].fill(pad as u8);
    n += pad;
    encrypt_blocks(&mut mode, &mut buf[..n]);
    out(&buf[..n]);
    Ok(())
}

fn encrypt_blocks<M: BlockModeEncrypt>(mode: &mut M, data: &mut [u8]) {
    let (blocks, rest) = Array::slice_as_chunks_mut(data);
    debug_assert!(rest.is_empty(), "whole blocks only");
    mode.encrypt_blocks(blocks);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smime::content_cipher::{cbc_decrypt, cbc_encrypt};
    use crate::smime::mime::encode_base64_lines;

    fn pieces(data: &[u8], cuts: &[usize]) -> Pieces<'static> {
        let mut p = Pieces::default();
        let mut last = 0;
        for &c in cuts.iter().chain(std::iter::once(&data.len())) {
            p.owned(data[last..c].to_vec());
            last = c;
        }
        p
    }

    #[test]
    fn cbc_over_pieces_equals_one_shot() {
        let key = [7u8; 32];
        let iv = [9u8; 16];
        for len in [0, 1, 15, 16, 17, STEP - 1, STEP, STEP + 5, 3 * STEP + 100] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let cuts = [len / 3, len / 2, len / 2];
            let mut got = vec![];
            cbc_encrypt_pieces(
                ContentCipher::Aes256Cbc,
                &key,
                &iv,
                &pieces(&data, &cuts),
                &mut |c| got.extend_from_slice(c),
            )
            .unwrap();
            let want = cbc_encrypt(ContentCipher::Aes256Cbc, &key, &iv, &data).unwrap();
            assert_eq!(got, want, "len {len}");
            assert_eq!(got.len(), cbc_ciphertext_len(ContentCipher::Aes256Cbc, len));
            let back = cbc_decrypt(ContentCipher::Aes256Cbc, &key, &iv, &got).unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn triple_des_pads_to_eight() {
        let key = [3u8; 24];
        let iv = [1u8; 8];
        let data = b"twenty-one bytes here";
        let mut got = vec![];
        cbc_encrypt_pieces(
            ContentCipher::DesEde3Cbc,
            &key,
            &iv,
            &pieces(data, &[5]),
            &mut |c| got.extend_from_slice(c),
        )
        .unwrap();
        assert_eq!(
            got,
            cbc_encrypt(ContentCipher::DesEde3Cbc, &key, &iv, data).unwrap()
        );
        assert_eq!(
            got.len(),
            cbc_ciphertext_len(ContentCipher::DesEde3Cbc, data.len())
        );
    }

    #[test]
    fn base64_lines_in_pieces_equal_one_shot() {
        for len in [0, 1, 56, 57, 58, 114, 1000, 70_001] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let mut out = vec![];
            let mut w = Base64Lines::new(&mut out);
            for c in data.chunks(13) {
                w.write(c);
            }
            w.finish();
            assert_eq!(out, encode_base64_lines(&data), "len {len}");
            assert_eq!(out.len(), base64_lines_len(len), "len {len}");
        }
    }
}
