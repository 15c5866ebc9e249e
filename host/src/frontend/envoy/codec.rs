//! The `Check` method's codec: tonic-prost's, with the request decoded by one
//! plain (non-generic) function from the message's bytes as a slice. Same
//! errors (`Internal`, prost's message), same buffer settings and encoding as
//! tonic-prost's codec.

use prost::{bytes::Buf, Message};
use tonic::{
    codec::{BufferSettings, Codec, DecodeBuf, Decoder},
    Status,
};
use tonic_prost::ProstEncoder;

use super::{reply::Reply, wire};

/// Encodes [`Reply`], decodes [`wire::CheckRequest`].
#[derive(Debug, Default)]
pub(super) struct CheckCodec;

impl Codec for CheckCodec {
    type Encode = Reply;
    type Decode = wire::CheckRequest;
    type Encoder = ProstEncoder<Reply>;
    type Decoder = CheckDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckDecoder
    }
}

/// Decodes one `CheckRequest` message.
#[derive(Debug)]
pub(super) struct CheckDecoder;

impl Decoder for CheckDecoder {
    type Item = wire::CheckRequest;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        decode(buf).map(Some)
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// The request in `buf`; a malformed one is `Internal`, as gRPC asks for
/// parse errors (and as tonic-prost answers). Decoded from the message's bytes
/// as one slice (they are contiguous): reading a slice moves a pointer, where
/// reading the `DecodeBuf` advanced its `BytesMut` for every field.
#[inline(never)]
fn decode(buf: &mut DecodeBuf<'_>) -> Result<wire::CheckRequest, Status> {
    let len = buf.remaining();
    let decoded = if buf.chunk().len() == len {
        let decoded = wire::CheckRequest::decode(buf.chunk());
        buf.advance(len);
        decoded
    } else {
        wire::CheckRequest::decode(&mut *buf)
    };
    decoded.map_err(|e| Status::internal(e.to_string()))
}
