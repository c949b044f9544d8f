//! Arbitrary bytes as one request line.
//!
//! Checks:
//! - `decode_request` never panics;
//! - on Ok: `encode_line` gives exactly one line (one `\n`, at the end), and
//!   decoding that line again gives the same request (the wire format is a
//!   fixed point: what the daemon accepts, a client can send back unchanged);
//! - on Err: the error carries an id only if the line was a JSON object whose
//!   `id` is that non-negative integer, and then it is that id.
#![no_main]

use intelmqd_proto::{decode_request, encode_line, PROTOCOL_VERSION};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_request(data) {
        Ok(request) => {
            assert_eq!(request.v, PROTOCOL_VERSION);
            let line = encode_line(&request);
            assert_eq!(line.last(), Some(&b'\n'), "encode_line ends with a newline");
            let body = &line[..line.len() - 1];
            assert!(
                !body.contains(&b'\n'),
                "an encoded request is one line: {:?}",
                String::from_utf8_lossy(&line)
            );
            let again = decode_request(body).unwrap_or_else(|error| {
                panic!(
                    "re-encoded request does not decode: {error:?}\ninput: {:?}\nencoded: {:?}",
                    String::from_utf8_lossy(data),
                    String::from_utf8_lossy(body)
                )
            });
            assert_eq!(
                again,
                request,
                "decode(encode(decode(x))) != decode(x)\ninput: {:?}\nencoded: {:?}",
                String::from_utf8_lossy(data),
                String::from_utf8_lossy(body)
            );
            // The encoded form is canonical: encoding it again is byte-identical.
            assert_eq!(encode_line(&again), line, "encoding is not stable");
        }
        Err(error) => {
            assert!(!error.message.is_empty(), "an error says what is wrong");
            if let Some(id) = error.id {
                let value: serde_json::Value =
                    serde_json::from_slice(data).expect("an error with an id came from JSON");
                assert_eq!(
                    value.get("id").and_then(serde_json::Value::as_u64),
                    Some(id),
                    "the error's id is the request's id"
                );
            }
        }
    }
});
