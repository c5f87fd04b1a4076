//! Sizes from structures anywhere in the file (every TIFF IFD, every ICO image) and script in
//! any JPEG segment.

use super::tests::{all, code, corpus, run_with};
use super::*;

/// A little-endian TIFF: one IFD per (width, height), chained in order; `sub` adds a SubIFD
/// to the first (at the end); each IFD's offset from `place` (file order may be shuffled).
fn tiff(sizes: &[(u32, u32)], sub: Option<(u32, u32)>, back: bool) -> Vec<u8> {
    let ifd = |w: u32, h: u32, extra: Option<u32>, next: u32| {
        let n = 2 + u16::from(extra.is_some());
        let mut b = n.to_le_bytes().to_vec();
        for (tag, v) in [(256u16, w), (257, h)]
            .into_iter()
            .chain(extra.map(|o| (330, o)))
        {
            b.extend_from_slice(&tag.to_le_bytes());
            b.extend_from_slice(&4u16.to_le_bytes());
            b.extend_from_slice(&1u32.to_le_bytes());
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&next.to_le_bytes());
        b
    };
    let size = |extra: bool| 2 + 12 * (2 + usize::from(extra)) + 4;
    let mut out = b"II*\0".to_vec();
    let mut at = 8 + 100; // 100 bytes of "pixels" first
    let first = at as u32;
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&[0x55; 100]);
    let sub_at = at
        + sizes
            .iter()
            .enumerate()
            .map(|(i, _)| size(i == 0 && sub.is_some()))
            .sum::<usize>();
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let extra = (i == 0).then_some(sub.map(|_| sub_at as u32)).flatten();
        at += size(extra.is_some());
        let next = match (i + 1 < sizes.len(), back) {
            (true, _) => at as u32,
            (false, true) => first,
            (false, false) => 0,
        };
        out.extend(ifd(w, h, extra, next));
    }
    if let Some((w, h)) = sub {
        out.extend(ifd(w, h, None, 0));
    }
    out
}

#[test]
fn every_tiff_ifd_and_ico_image_is_measured() {
    let t = |b: &[u8]| run_with(&all(), "image/tiff", b, 16, 5);
    assert_eq!(
        t(&tiff(&[(10, 20), (30, 5)], None, false)).unwrap(),
        Some((10, 20))
    );
    assert_eq!(
        code(t(&tiff(&[(10, 10), (100_000, 100_000)], None, false))),
        "too_large"
    );
    assert_eq!(
        code(t(&tiff(&[(10, 10)], Some((90_000, 10)), false))),
        "too_large"
    );
    assert_eq!(
        code(t(&tiff(&[(10, 10), (20, 20)], None, true))),
        "invalid_file"
    );
    let cut = tiff(&[(10, 10), (20, 20)], None, false);
    assert_eq!(code(t(&cut[..cut.len() - 20])), "invalid_file");
    assert_eq!(code(t(b"II+\0\x08\0\0\0\0\0\0\0\0\0")), "invalid_file");
    // The corpus TIFF's only IFD lies 700 KB in: beyond any header window.
    let photo = corpus("photo.tiff");
    let small = Arc::new(StructureRules {
        max_width: Some(600),
        ..Default::default()
    });
    assert_eq!(
        code(run_with(&small, "image/tiff", &photo, 4096, 65536)),
        "too_large"
    );

    // An ICO entry that says 16 × 16 holding a 100,000² PNG.
    let mut png = corpus("photo.png");
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let mut ico = vec![0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0];
    ico.extend_from_slice(&(png.len() as u32).to_le_bytes());
    ico.extend_from_slice(&22u32.to_le_bytes());
    ico.extend_from_slice(&png);
    for chunk in [1, 9, 65536] {
        let r = run_with(&all(), "image/vnd.microsoft.icon", &ico, 4, chunk);
        assert_eq!(code(r), "too_large", "chunk {chunk}");
    }
}

#[test]
fn scripts_in_any_jpeg_segment_are_refused() {
    let jpg = corpus("photo.jpg");
    let segment = |code: u8, payload: &[u8]| {
        let mut s = vec![0xFF, code];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    };
    // A DQT table followed by more bytes, a JPGn segment, after the SOI; a DNL after the scan.
    let mut dqt = vec![0u8];
    dqt.extend(1..=64u8);
    dqt.extend_from_slice(b"<?php system($_GET[0]); ?>");
    let eoi = jpg.len() - 2;
    for (what, bytes) in [
        ("DQT", [&jpg[..2], &segment(0xDB, &dqt), &jpg[2..]].concat()),
        (
            "JPG0",
            [&jpg[..2], &segment(0xF0, b"<script>x</script>"), &jpg[2..]].concat(),
        ),
        (
            "DNL",
            [
                &jpg[..eoi],
                &segment(0xDC, b"\x01\x00<script>"),
                &jpg[eoi..],
            ]
            .concat(),
        ),
    ] {
        for chunk in [1, 7, 65536] {
            let r = run_with(&all(), "image/jpeg", &bytes, 16, chunk);
            assert_eq!(code(r), "unsupported_media_type", "{what} chunk {chunk}");
        }
    }
}
