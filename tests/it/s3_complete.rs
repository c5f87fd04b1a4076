//! S3 answers `CompleteMultipartUpload` `200 OK` before it has assembled the object and may then
//! report an error in the body (AWS's documented behaviour; the SDKs retry the Complete). The
//! storage here is scripted, because s3s-fs never answers so: its first Complete is a 200 whose
//! body is spaces and an `<Error>`, its second a result. The gateway must neither count the
//! failed one in the tenant's quota nor drop the upload's records the retry needs.

use crate::common::{Request, TestGateway, fixture, free_port, wait_until_listening};
use crate::s3::{KEY, config};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

const UPLOAD_ID: &str = "scripted-upload-1";

/// A scripted S3 storage: each request's method and target are recorded; creation gives
/// `UPLOAD_ID`, a part an ETag, the first Complete a 200 with an error, later ones a result.
fn scripted_storage() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || serve(stream, &log));
        }
    });
    (addr, seen)
}

fn serve(stream: TcpStream, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut first = String::new();
        if reader.read_line(&mut first).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let target = first
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let completes = {
            let mut seen = log.lock().unwrap();
            seen.push(target.clone());
            seen.iter().filter(|t| t.contains("?uploadId=")).count()
        };
        let (extra, answer) = if target.ends_with("?uploads") {
            (
                String::new(),
                format!(
                    "<InitiateMultipartUploadResult><Bucket>media</Bucket><Key>clip.mp4</Key>\
                     <UploadId>{UPLOAD_ID}</UploadId></InitiateMultipartUploadResult>"
                ),
            )
        } else if target.starts_with("PUT") {
            ("ETag: \"etag-part-1\"\r\n".to_string(), String::new())
        } else if completes == 1 {
            (
                String::new(),
                "  \n  \n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError\
                 </Code><Message>We encountered an internal error. Please try again.</Message>\
                 </Error>"
                    .to_string(),
            )
        } else {
            (
                String::new(),
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult>\
                 <Bucket>media</Bucket><Key>clip.mp4</Key><ETag>\"etag-1\"</ETag>\
                 </CompleteMultipartUploadResult>"
                    .to_string(),
            )
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\n{extra}Content-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn signed(req: Request) -> Request {
    req.header(
        "Authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={KEY}/20261207/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={}",
            "0".repeat(64)
        ),
    )
    .header("x-amz-date", "20261207T000000Z")
    .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
}

#[test]
fn a_complete_answered_200_with_an_error_is_not_counted_and_can_be_retried() {
    let (storage, seen) = scripted_storage();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let dir = std::env::temp_dir().join(format!("ugw-s3-complete-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("admin.token");
    std::fs::write(&token_file, "admin-token-for-s3-tests-000").unwrap();
    let text = format!(
        "{}[admin]\naddress = \"{admin}\"\ntoken_file = \"{}\"\n[quotas]\ndefault_tier = \
         \"free\"\n[quotas.tiers.free]\nstorage_bytes = 100000000\nfile_count = 10\n",
        config(),
        token_file.display()
    );
    let gw = TestGateway::start_with(&text, storage);
    wait_until_listening(admin);
    let used = || {
        let usage = Request::new(admin)
            .method("GET")
            .path("/usage/org-example")
            .header("Authorization", "Bearer admin-token-for-s3-tests-000")
            .body(b"")
            .json();
        let q = &usage["quotas"];
        assert_eq!(q[0]["metric"], "storage_bytes", "{usage}");
        (
            q[0]["used"].as_u64().unwrap(),
            q[1]["used"].as_u64().unwrap(),
        )
    };

    let create = signed(gw.request().method("POST").path("/media/clip.mp4?uploads"))
        .header("Content-Type", "video/mp4")
        .body(b"");
    assert_eq!(create.status, 200, "{create:?}");
    let mp4 = fixture("media/clip.mp4");
    let part = signed(gw.request().method("PUT").path(&format!(
        "/media/clip.mp4?partNumber=1&uploadId={UPLOAD_ID}"
    )))
    .body(&mp4);
    assert_eq!(part.status, 200, "{part:?}");
    let complete = || {
        signed(
            gw.request()
                .method("POST")
                .path(&format!("/media/clip.mp4?uploadId={UPLOAD_ID}")),
        )
        .body(
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>\
              <ETag>\"etag-part-1\"</ETag></Part></CompleteMultipartUpload>",
        )
    };

    // The storage's 200 with an error reaches the client unchanged (the SDK retries on it);
    // nothing is counted.
    let failed = complete();
    assert_eq!(failed.status, 200);
    let body = String::from_utf8_lossy(&failed.body);
    assert!(body.contains("<Code>InternalError</Code>"), "{body}");
    let settled = |want: (u64, u64)| {
        for _ in 0..50 {
            if used() == want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(used(), want);
    };
    settled((0, 0));

    // The retry finds the records and completes: counted once, as one file.
    let retried = complete();
    assert_eq!(retried.status, 200);
    let body = String::from_utf8_lossy(&retried.body);
    assert!(body.contains("<CompleteMultipartUploadResult>"), "{body}");
    settled((mp4.len() as u64, 1));

    // Completed: the records are gone, the gateway answers a third Complete itself.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let again = complete();
    assert_eq!(again.status, 404, "{again:?}");
    assert!(String::from_utf8_lossy(&again.body).contains("<Code>NoSuchUpload</Code>"));
    let completes = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|t| t.contains("?uploadId="))
        .count();
    assert_eq!(completes, 2, "{:?}", seen.lock().unwrap());
    assert_eq!(used(), (mp4.len() as u64, 1));
    let _ = std::fs::remove_dir_all(dir);
}
