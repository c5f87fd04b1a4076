use super::*;
use http::Method;

#[test]
fn operations_are_told_apart_by_method_and_sub_resource() {
    let put = Method::PUT;
    let post = Method::POST;
    assert_eq!(op(&put, ""), Some(Op::PutObject));
    assert_eq!(op(&put, "x-id=PutObject"), Some(Op::PutObject));
    assert_eq!(op(&post, "uploads"), Some(Op::Create));
    assert_eq!(op(&post, ""), Some(Op::PostObject));
    assert_eq!(op(&post, "uploads="), Some(Op::Create));
    assert_eq!(
        op(&put, "uploadId=abc%2F1&partNumber=7"),
        Some(Op::Part {
            number: 7,
            upload_id: "abc/1".into()
        })
    );
    assert_eq!(
        op(&post, "uploadId=abc"),
        Some(Op::Complete {
            upload_id: "abc".into()
        })
    );
    for (m, q) in [
        (&put, "partNumber=0&uploadId=a"),
        (&put, "partNumber=10001&uploadId=a"),
        (&put, "partNumber=+1&uploadId=a"),
        (&put, "partNumber=1&uploadId="),
        (&put, "partNumber=1"),
        (&put, "uploadId=a"),
        (&put, "partNumber=1&uploadId=a&acl"),
        (&put, "partNumber=1&partNumber=2&uploadId=a"),
        (&post, "uploads=x"),
        (&post, "uploads&uploadId=a"),
        (&put, "acl"),
        (&post, "delete"),
        (&Method::DELETE, "uploadId=a"),
    ] {
        assert_eq!(op(m, q), None, "{m} ?{q}");
    }
}

#[test]
fn the_upload_id_is_read_from_the_create_answer() {
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>media</Bucket><Key>v.mp4</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>"#;
    assert_eq!(created_upload_id(xml).as_deref(), Some("VXBsb2FkIElE"));
    assert_eq!(created_upload_id(b"<Error><Code>x</Code></Error>"), None);
    assert_eq!(created_upload_id(b"<R><UploadId></UploadId></R>"), None);
}

const BOTO: &[u8] = br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a1"</ETag><PartNumber>1</PartNumber></Part><Part><ETag>&quot;b2&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"#;

#[test]
fn complete_bodies_are_read_strictly() {
    assert_eq!(
        complete_parts(BOTO).unwrap(),
        vec![(1, "a1".to_string()), (2, "b2".to_string())]
    );
    let spaced = b"<?xml version=\"1.0\"?>\n<CompleteMultipartUpload>\n  <Part>\n    <PartNumber> 3 </PartNumber>\n    <ETag>e</ETag>\n  </Part>\n</CompleteMultipartUpload>\n";
    assert_eq!(complete_parts(spaced).unwrap(), vec![(3, "e".to_string())]);
    let part = |inner: &str| format!("<CompleteMultipartUpload>{inner}</CompleteMultipartUpload>");
    for (what, xml) in [
        ("no parts", part("")),
        (
            "descending",
            part(
                "<Part><PartNumber>2</PartNumber><ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part>",
            ),
        ),
        (
            "repeated",
            part(
                "<Part><PartNumber>1</PartNumber><ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part>",
            ),
        ),
        (
            "two numbers",
            part("<Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>a</ETag></Part>"),
        ),
        (
            "two etags",
            part("<Part><PartNumber>1</PartNumber><ETag>a</ETag><ETag>b</ETag></Part>"),
        ),
        ("no etag", part("<Part><PartNumber>1</PartNumber></Part>")),
        (
            "zero",
            part("<Part><PartNumber>0</PartNumber><ETag>a</ETag></Part>"),
        ),
        (
            "signed",
            part("<Part><PartNumber>-1</PartNumber><ETag>a</ETag></Part>"),
        ),
        (
            "cdata",
            part("<Part><PartNumber>1<![CDATA[0]]></PartNumber><ETag>a</ETag></Part>"),
        ),
        (
            "comment",
            part("<Part><PartNumber>1<!--x-->0</PartNumber><ETag>a</ETag></Part>"),
        ),
        (
            "nested",
            part("<Part><PartNumber><i>1</i></PartNumber><ETag>a</ETag></Part>"),
        ),
        (
            "unknown field",
            part("<Part><PartNumber>1</PartNumber><ETag>a</ETag><Size>1</Size></Part>"),
        ),
        (
            "stray text",
            part("x<Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>"),
        ),
        (
            "entity",
            part("<Part><PartNumber>1</PartNumber><ETag>&x;</ETag></Part>"),
        ),
        ("empty part", part("<Part/>")),
        (
            "other root",
            "<Complete><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Complete>".into(),
        ),
        (
            "two roots",
            format!(
                "{}{}",
                part("<Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>"),
                part("<Part><PartNumber>2</PartNumber><ETag>a</ETag></Part>")
            ),
        ),
        (
            "doctype",
            format!(
                "<!DOCTYPE x [<!ENTITY x \"1\">]>{}",
                part("<Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>")
            ),
        ),
        (
            "unclosed",
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>".into(),
        ),
    ] {
        assert!(complete_parts(xml.as_bytes()).is_err(), "{what}");
    }
}

fn rec(size: u64, etag: &str, detected: Option<&str>) -> Option<PartRecord> {
    Some(PartRecord {
        size,
        etag: etag.into(),
        detected: detected.map(str::to_string),
    })
}

#[test]
fn complete_needs_an_inspected_first_part_and_every_part_recorded() {
    let listed = vec![(1, "a".to_string()), (2, "b".to_string())];
    assert_eq!(
        check_complete(
            &listed,
            &[rec(5, "a", Some("video/mp4")), rec(3, "b", None)]
        )
        .unwrap(),
        (8, "video/mp4".to_string())
    );
    for (what, records) in [
        (
            "part 2 not through the gateway",
            vec![rec(5, "a", Some("video/mp4")), None],
        ),
        (
            "part 1 not through the gateway",
            vec![None, rec(3, "b", None)],
        ),
        (
            "another ETag",
            vec![rec(5, "a", Some("video/mp4")), rec(3, "c", None)],
        ),
        (
            "part 1 not inspected",
            vec![rec(5, "a", None), rec(3, "b", None)],
        ),
    ] {
        let e = check_complete(&listed, &records).unwrap_err();
        assert_eq!(e.code(), "forbidden", "{what}");
    }
    let without_first = vec![(2, "b".to_string())];
    assert!(check_complete(&without_first, &[rec(3, "b", None)]).is_err());
}

#[test]
fn records_are_per_tenant_and_credential() {
    let a = record_key("orgA", "s3:AKIDA", "u1");
    assert_ne!(a, record_key("orgB", "s3:AKIDA", "u1"));
    assert_ne!(a, record_key("orgA", "s3:AKIDB", "u1"));
    assert_ne!(a, record_key("orgA", "s3:AKIDA", "u2"));
    assert_ne!(record_key("ab", "c", "d"), record_key("a", "bc", "d"));
    // SHA-256 over each part's u64 big-endian length and bytes: records stored by an earlier
    // build (Redis) are found by this one.
    assert_eq!(
        record_key("orgA", "s3:AKID", "up-1"),
        "s3mpu:4378159c448b6635d4d6c48fc9fca7a2569f9d38405c99ebaff65285454cdab7"
    );
    assert_eq!(part_key(&a, 3), format!("{a}:3"));
    assert_eq!(unquote(" \"x\" "), "x");
}

#[test]
fn a_complete_answer_is_told_a_result_or_an_error_by_its_root() {
    let result = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult \
        xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key>\
        <ETag>\"e-2\"</ETag></CompleteMultipartUploadResult>";
    assert_eq!(completion(result), Completion::Completed);
    // A long Complete: spaces first, then an error in a 200.
    let error = b"   \n  \n<?xml version=\"1.0\"?><Error><Code>InternalError</Code>\
        <Message>We encountered an internal error.</Message></Error>";
    assert_eq!(completion(error), Completion::Failed);
    assert_eq!(completion(b"<Error><Code>"), Completion::Failed);
    for unknown in [
        &b""[..],
        b"   ",
        b"<?xml version=\"1.0\"?>",
        b"{\"error\":1}",
        b"x<Error/>",
        b"<Other><Error/></Other>",
    ] {
        assert_eq!(
            completion(unknown),
            Completion::Unknown,
            "{}",
            String::from_utf8_lossy(unknown)
        );
    }
}
