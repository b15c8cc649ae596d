//! The frame codec of the two request-response protocols.
//!
//! Each request and each response is one frame on its own stream (libp2p request-response:
//! one stream per exchange): a 4-byte big-endian length, then that many bytes. The payload is
//! opaque here (a BTP packet on `/btpnips/btp/1.0.0`, a NIP-01 JSON message on
//! `/btpnips/nostr/1.0.0`). A length above [`MAX_FRAME`] or a stream that ends early is an
//! [`io::Error`] (`InvalidData`, `UnexpectedEof`); nothing beyond [`MAX_FRAME`] is ever
//! allocated. A malformed *request* is handed up as [`Frame::Malformed`] rather than as an
//! error, because request-response 0.30 does not report `read_request` errors to the behaviour,
//! and the swarm task needs to know which peer sent it. A malformed response is an outbound
//! failure of that request.
use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

/// Largest payload of one frame in bytes: 64 KiB of packet plus 1 KiB of headroom.
pub const MAX_FRAME: usize = 64 * 1024 + 1024;

/// An inbound request as read off a stream.
#[derive(Debug)]
pub enum Frame {
    /// A well-formed frame's payload.
    Data(Vec<u8>),
    /// The frame was oversized (`InvalidData`) or truncated (`UnexpectedEof`).
    Malformed(io::Error),
}

/// Length-prefixed frames (`u32` big-endian length + payload), at most [`MAX_FRAME`] bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameCodec;

/// Read one frame. Errors: `InvalidData` if the length is above [`MAX_FRAME`], `UnexpectedEof`
/// if the stream ends inside the header or the payload.
pub async fn read_frame<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {len} bytes > {MAX_FRAME}")));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Write one frame and close the write side. Errors: `InvalidInput` if `data` is above
/// [`MAX_FRAME`] (nothing is written then), or the stream's error.
pub async fn write_frame<T: AsyncWrite + Unpin>(io: &mut T, data: &[u8]) -> io::Result<()> {
    if data.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes > {MAX_FRAME}", data.len()),
        ));
    }
    io.write_all(&(data.len() as u32).to_be_bytes()).await?;
    io.write_all(data).await?;
    io.close().await
}

impl libp2p::request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Frame;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        match read_frame(io).await {
            Ok(data) => Ok(Frame::Data(data)),
            Err(e) if matches!(e.kind(), io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof) => {
                Ok(Frame::Malformed(e))
            }
            Err(e) => Err(e),
        }
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: Frame) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            Frame::Data(data) => write_frame(io, &data).await,
            Frame::Malformed(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e)),
        }
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Vec<u8>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;

    fn frame(len_field: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = len_field.to_be_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[tokio::test]
    async fn round_trips_and_bounds() {
        for data in [vec![], vec![7u8; 100], vec![1u8; MAX_FRAME]] {
            let mut out = Cursor::new(Vec::new());
            write_frame(&mut out, &data).await.unwrap();
            assert_eq!(out.get_ref().len(), data.len() + 4);
            assert_eq!(read_frame(&mut Cursor::new(out.into_inner())).await.unwrap(), data);
        }
        let mut out = Cursor::new(Vec::new());
        let err = write_frame(&mut out, &vec![0u8; MAX_FRAME + 1]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(out.get_ref().is_empty());
    }

    #[tokio::test]
    async fn rejects_oversized_and_truncated_frames() {
        let cases: [(Vec<u8>, io::ErrorKind); 5] = [
            (frame(MAX_FRAME as u32 + 1, &[]), io::ErrorKind::InvalidData),
            (frame(u32::MAX, &[0; 16]), io::ErrorKind::InvalidData),
            (frame(10, &[1, 2, 3]), io::ErrorKind::UnexpectedEof),
            (vec![0, 0], io::ErrorKind::UnexpectedEof),
            (vec![], io::ErrorKind::UnexpectedEof),
        ];
        for (bytes, kind) in cases {
            let err = read_frame(&mut Cursor::new(bytes.clone())).await.unwrap_err();
            assert_eq!(err.kind(), kind, "{bytes:?}");
        }
    }
}
