use super::*;

const SIG: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An aws-chunked body as the SDKs frame it.
fn encode(payload: &[u8], chunk: usize, signed: bool, trailer: Option<(&str, String)>) -> Vec<u8> {
    let ext = |out: &mut Vec<u8>| {
        if signed {
            out.extend_from_slice(format!(";chunk-signature={SIG}").as_bytes());
        }
    };
    let mut out = Vec::new();
    for c in payload.chunks(chunk) {
        out.extend_from_slice(format!("{:x}", c.len()).as_bytes());
        ext(&mut out);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0");
    ext(&mut out);
    out.extend_from_slice(b"\r\n");
    if let Some((name, value)) = trailer {
        out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        if signed {
            out.extend_from_slice(format!("x-amz-trailer-signature:{SIG}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn spec(len: usize, signed: bool, trailer: Option<Algorithm>) -> Spec {
    Spec {
        decoded_length: len as u64,
        signed,
        trailer,
    }
}

/// Decodes `body` in `cut`-byte pieces: the payload, and the verdict at the end.
fn decode(spec: Spec, body: &[u8], cut: usize) -> Result<Vec<u8>, (bool, String)> {
    let mut d = Decoder::new(spec);
    let mut payload = Vec::new();
    for piece in body.chunks(cut) {
        d.push(&Bytes::copy_from_slice(piece), &mut |b| {
            payload.extend_from_slice(&b)
        })
        .map_err(|e| (false, e))?;
    }
    d.finish().map(|()| payload)
}

#[test]
fn checksums_are_the_standard_ones() {
    // The catalogue's check values over "123456789".
    let cases = [
        (
            Algorithm::Crc32,
            "x-amz-checksum-crc32",
            0xCBF4_3926u64.to_be_bytes()[4..].to_vec(),
        ),
        (
            Algorithm::Crc32c,
            "x-amz-checksum-crc32c",
            0xE306_9283u64.to_be_bytes()[4..].to_vec(),
        ),
        (
            Algorithm::Crc64Nvme,
            "x-amz-checksum-crc64nvme",
            0xAE8B_1486_0A79_9888u64.to_be_bytes().to_vec(),
        ),
        (
            Algorithm::Sha256,
            "x-amz-checksum-sha256",
            sha2::Sha256::digest(b"123456789").to_vec(),
        ),
    ];
    for (algorithm, name, sum) in cases {
        assert_eq!(
            Algorithm::from_trailer(&name.to_uppercase()),
            Some(algorithm)
        );
        let body = encode(b"123456789", 4, false, Some((name, b64(&sum))));
        for cut in [1, 3, 7, body.len()] {
            let got = decode(spec(9, false, Some(algorithm)), &body, cut);
            assert_eq!(got, Ok(b"123456789".to_vec()), "{name}, cut {cut}");
        }
        let wrong = encode(b"123456780", 4, false, Some((name, b64(&sum))));
        let err = decode(spec(9, false, Some(algorithm)), &wrong, 5).unwrap_err();
        assert!(
            err.0,
            "{name}: a checksum mismatch is a bad digest: {err:?}"
        );
    }
}

#[test]
fn signed_chunks_and_any_chunking_give_the_same_payload() {
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let body = encode(&payload, 65_536, true, None);
    for cut in [1, 4096, 65_536, body.len()] {
        if cut == 1 && payload.len() > 50_000 {
            continue;
        }
        assert_eq!(
            decode(spec(payload.len(), true, None), &body, cut).unwrap(),
            payload
        );
    }
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, &payload) as u32;
    let body = encode(
        &payload,
        8192,
        true,
        Some(("x-amz-checksum-crc32", b64(&crc.to_be_bytes()))),
    );
    let s = spec(payload.len(), true, Some(Algorithm::Crc32));
    assert_eq!(decode(s, &body, 1000).unwrap(), payload);
}

#[test]
fn anything_but_the_exact_framing_is_refused() {
    let ok = encode(b"hello", 5, false, None);
    assert_eq!(decode(spec(5, false, None), &ok, 2), Ok(b"hello".to_vec()));
    let signed = spec(5, true, None);
    let cases: Vec<(Spec, Vec<u8>, &str)> = vec![
        (spec(5, false, None), b"5\nhello\r\n0\r\n\r\n".to_vec(), "bare LF"),
        (spec(5, false, None), b"+5\r\nhello\r\n0\r\n\r\n".to_vec(), "sign"),
        (spec(5, false, None), b"0x5\r\nhello\r\n0\r\n\r\n".to_vec(), "0x"),
        (spec(5, false, None), b"00000000000000005\r\nhello\r\n0\r\n\r\n".to_vec(), "17 digits"),
        (spec(5, false, None), b"5;x=y\r\nhello\r\n0\r\n\r\n".to_vec(), "extension"),
        (spec(5, false, None), b"4\r\nhello\r\n0\r\n\r\n".to_vec(), "data longer"),
        (spec(5, false, None), b"5\r\nhello\r\n0\r\n\r\nmore".to_vec(), "after the end"),
        (spec(5, false, None), b"5\r\nhello\r\n0\r\nx-extra:1\r\n\r\n".to_vec(), "trailer"),
        (spec(5, false, None), b"5\r\nhello\r\n0\r\n".to_vec(), "no final line"),
        (spec(5, false, None), b"5\r\nhel".to_vec(), "truncated"),
        (spec(6, false, None), ok.clone(), "shorter than declared"),
        (spec(4, false, None), ok.clone(), "longer than declared"),
        (signed.clone(), ok.clone(), "unsigned chunks, signed declared"),
        (signed, b"5;chunk-signature=00\r\nhello\r\n0\r\n\r\n".to_vec(), "short signature"),
        (
            spec(5, false, Some(Algorithm::Crc32)),
            ok.clone(),
            "the trailer is missing",
        ),
        (
            spec(5, false, Some(Algorithm::Crc32)),
            encode(b"hello", 5, false, Some(("x-amz-checksum-crc32c", "AAAAAA==".into()))),
            "another trailer",
        ),
        (
            spec(5, false, Some(Algorithm::Crc32)),
            b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:a\r\nx-amz-checksum-crc32:a\r\n\r\n".to_vec(),
            "twice",
        ),
        (
            spec(5, true, Some(Algorithm::Crc32)),
            format!("5;chunk-signature={SIG}\r\nhello\r\n0;chunk-signature={SIG}\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n")
                .into_bytes(),
            "signed trailer without its signature",
        ),
    ];
    for (s, body, name) in cases {
        for cut in [1, body.len()] {
            assert!(decode(s.clone(), &body, cut).is_err(), "{name} (cut {cut})");
        }
    }
    let long = vec![b'1'; MAX_LINE + 1];
    assert!(
        decode(spec(5, false, None), &long, 100).is_err(),
        "an endless size line"
    );
}
