//! Feeds arbitrary bytes to the frame decoder: it must never panic, never
//! allocate past the limit, and every frame it accepts must re-encode to a
//! frame that decodes to the same value. The zero-copy decoder of data
//! frames (`body::decode_data_frame`: `Body`, `EventData`, `Event`) must
//! agree with the generic one on every input.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sallyport_protocol::body::decode_data_frame;
use sallyport_protocol::version::Preamble;
use sallyport_protocol::{ControlFrame, DataFrame, FrameCodec};

fn drain<T>(data: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let codec = FrameCodec::<T>::new(64 * 1024);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        let again = codec.encode_to_bytes(&frame).expect("a decoded frame re-encodes");
        let mut again = BytesMut::from(&again[..]);
        assert_eq!(codec.decode(&mut again).expect("re-decodes"), Some(frame));
        assert!(again.is_empty());
    }
}

/// The zero-copy decoder gives what the generic decoder gives, frame by
/// frame, until either stops.
fn zero_copy_agrees(data: &[u8]) {
    let codec = FrameCodec::<DataFrame>::new(64 * 1024);
    let mut generic = BytesMut::from(data);
    let mut ours = BytesMut::from(data);
    loop {
        let want = codec.decode(&mut generic);
        let got = decode_data_frame(&codec, &mut ours);
        match (&want, &got) {
            (Ok(Some(a)), Ok(Some(b))) => assert_eq!(a, b),
            (Ok(None), Ok(None)) | (Err(_), Err(_)) => return,
            _ => panic!("generic {want:?}, zero-copy {got:?}"),
        }
        assert_eq!(generic.len(), ours.len(), "consumed different lengths");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(head) = data.first_chunk::<{ Preamble::LEN }>() {
        let _ = Preamble::decode(head);
    }
    drain::<ControlFrame>(data);
    drain::<DataFrame>(data);
    zero_copy_agrees(data);
});
