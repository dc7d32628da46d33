//! The compressibility probe: a chunk that does not shrink when samples of it are compressed at zstd's fastest
//! level (already-compressed data) is stored as it is, without paying for its full compression.

use crate::{Error, ErrorKind, Result};

/// Chunks this small are always compressed: probing costs as much as compressing.
const PROBE_MIN: usize = 256 << 10;
/// The probe compresses this many samples of this many bytes, spread over the chunk.
const PROBE_SAMPLES: usize = 4;
const PROBE_SAMPLE: usize = 16 << 10;

/// Whether compressing `raw` in full can pay: a chunk whose samples do not shrink by 2% at zstd's fastest level
/// is stored as it is (already-compressed data), saving the full compression's time.
pub(super) fn worth_compressing(
    raw: &[u8],
    probe: &mut zstd::bulk::Compressor<'static>,
    scratch: &mut Vec<u8>,
) -> Result<bool> {
    if raw.len() < PROBE_MIN {
        return Ok(true);
    }
    let step = (raw.len() - PROBE_SAMPLE) / (PROBE_SAMPLES - 1);
    let mut stored = 0;
    for k in 0..PROBE_SAMPLES {
        let sample = &raw[k * step..k * step + PROBE_SAMPLE];
        scratch.clear();
        scratch.reserve(zstd::zstd_safe::compress_bound(sample.len()));
        stored +=
            probe.compress_to_buffer(sample, scratch).map_err(|e| Error::new(ErrorKind::Io, format!("zstd: {e}")))?;
    }
    Ok(stored * 100 < PROBE_SAMPLES * PROBE_SAMPLE * 98)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn noise_is_not_worth_compressing_and_text_and_small_chunks_are() {
        let mut z = zstd::bulk::Compressor::new(1).unwrap();
        let mut scratch = Vec::new();
        assert!(!worth_compressing(&noise(1 << 20), &mut z, &mut scratch).unwrap());
        let text: Vec<u8> = (0..1 << 20).map(|i| b"lineitem|orders|"[i % 16]).collect();
        assert!(worth_compressing(&text, &mut z, &mut scratch).unwrap());
        assert!(worth_compressing(&noise(PROBE_MIN - 1), &mut z, &mut scratch).unwrap(), "too small to probe");
        // Noise with one compressible quarter: the samples see it, and the chunk is compressed.
        let mut mixed = noise(1 << 20);
        mixed[..1 << 18].fill(0);
        assert!(worth_compressing(&mixed, &mut z, &mut scratch).unwrap());
    }
}
