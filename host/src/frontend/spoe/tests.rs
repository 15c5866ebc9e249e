//! SPOP codec tests: round trips, HELLO negotiation, and property tests that the
//! decoders neither panic nor allocate beyond their input on arbitrary bytes.

use proptest::prelude::*;

use super::{connection::negotiate, frame::*};

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::Int32),
        any::<u32>().prop_map(Value::Uint32),
        any::<i64>().prop_map(Value::Int64),
        any::<u64>().prop_map(Value::Uint64),
        any::<[u8; 4]>().prop_map(|b| Value::Ipv4(b.into())),
        any::<[u8; 16]>().prop_map(|b| Value::Ipv6(b.into())),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bin),
    ]
}

proptest! {
    #[test]
    fn varint_round_trips(n in any::<u64>()) {
        let mut out = Vec::new();
        put_varint(&mut out, n);
        let mut r = Reader::new(&out);
        prop_assert_eq!(r.varint(), Ok(n));
        prop_assert!(r.is_empty());
    }

    #[test]
    fn values_round_trip(v in value()) {
        let mut out = Vec::new();
        put_value(&mut out, &v);
        let mut r = Reader::new(&out);
        prop_assert_eq!(r.value(), Ok(v));
        prop_assert!(r.is_empty());
    }

    #[test]
    fn frames_round_trip(kind in any::<u8>(), flags in any::<u32>(), stream_id in any::<u64>(),
                         frame_id in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..512)) {
        let frame = Frame { kind, flags, stream_id, frame_id, payload };
        let bytes = encode_frame(&frame);
        prop_assert_eq!(decode_frame(&bytes[4..]), Ok(frame));
    }

    /// The decoders on arbitrary bytes: Ok or Err, never a panic, and nothing
    /// decoded is larger than the input.
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(frame) = decode_frame(&bytes) {
            prop_assert!(frame.payload.len() <= bytes.len());
        }
        if let Ok(list) = decode_kv_list(&bytes) {
            prop_assert!(list.len() <= bytes.len());
        }
        if let Ok(messages) = decode_messages(&bytes) {
            let args: usize = messages.iter().map(|m| m.args.len()).sum();
            prop_assert!(args <= bytes.len());
        }
        if let Ok(headers) = decode_headers(&bytes) {
            prop_assert!(headers.len() <= bytes.len());
        }
        let _ = negotiate(&bytes, 16380);
    }

    /// Reading from a stream never allocates past the max frame size, whatever
    /// length the peer claims.
    #[test]
    fn read_frame_is_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..64), max in 256u32..1024) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let result = runtime.block_on(read_frame(&mut bytes.as_slice(), max));
        if let Ok(Some(Ok(frame))) = result {
            prop_assert!(frame.payload.len() <= max as usize);
        }
        if bytes.len() >= 4 && u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) > max {
            prop_assert!(matches!(
                runtime.block_on(read_frame(&mut bytes.as_slice(), max)),
                Ok(Some(Err(FrameError::TooBig)))
            ));
        }
    }
}

#[test]
fn varint_matches_haproxy_examples() {
    // From SPOE.txt: 0..239 in one byte; 240 → F0 00; 2287 → FF 7F; 2288 → F0 80 00.
    for (n, want) in [
        (0u64, vec![0x00]),
        (239, vec![0xef]),
        (240, vec![0xf0, 0x00]),
        (2287, vec![0xff, 0x7f]),
        (2288, vec![0xf0, 0x80, 0x00]),
        (264431, vec![0xff, 0xff, 0x7f]),
        (264432, vec![0xf0, 0x80, 0x80, 0x00]),
    ] {
        let mut out = Vec::new();
        put_varint(&mut out, n);
        assert_eq!(out, want, "{n}");
    }
    assert_eq!(Reader::new(&[0xf0; 20]).varint(), Err(FrameError::Invalid));
}

#[test]
fn hello_negotiation() {
    let hello = encode_kv_list(&[
        ("supported-versions", Value::str("2.0")),
        ("max-frame-size", Value::Uint32(65532)),
        ("capabilities", Value::str("pipelining,fragmentation,async")),
        ("engine-id", Value::str("x")),
    ]);
    let got = negotiate(&hello, 16380).expect("negotiated");
    assert_eq!(got.max_frame_size, 16380);
    assert_eq!(got.capabilities, "pipelining,async");
    assert!(!got.healthcheck);
    let old = encode_kv_list(&[
        ("supported-versions", Value::str("1.0")),
        ("max-frame-size", Value::Uint32(16380)),
        ("capabilities", Value::str("")),
    ]);
    assert_eq!(negotiate(&old, 16380), Err(FrameError::BadVersion));
    let tiny = encode_kv_list(&[
        ("supported-versions", Value::str("2.0")),
        ("max-frame-size", Value::Uint32(100)),
        ("capabilities", Value::str("")),
    ]);
    assert_eq!(negotiate(&tiny, 16380), Err(FrameError::BadFrameSize));
    assert_eq!(negotiate(&[], 16380), Err(FrameError::NoVersion));
}
