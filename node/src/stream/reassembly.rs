//! Per-stream receive state: put StreamData frames back in offset order and cut the bytes
//! into BTP-NIPs messages (RFC 29 §5.3 StreamData; docs/btp-nips.md §3).
use std::collections::BTreeMap;

use protocol::btpnips::framing::MessageDecoder;
use protocol::btpnips::BtpNipsError;

/// Most bytes buffered out of order on one stream before the stream is refused.
pub const MAX_BUFFERED: usize = 512 * 1024;

/// Receive side of one stream. Cloned before a packet is applied, so a rejected packet
/// leaves no trace (a Reject NACKs its frames).
#[derive(Debug, Default, Clone)]
pub struct RecvStream {
    next_offset: u64,
    out_of_order: BTreeMap<u64, Vec<u8>>,
    buffered: usize,
    decoder: MessageDecoder,
}

impl RecvStream {
    /// Apply one StreamData frame and return the messages it completes.
    ///
    /// Bytes before `next_offset` (a retransmission) are skipped; bytes after a gap wait
    /// for the gap to fill. Errors: too much buffered, or a framing error.
    pub fn push(&mut self, offset: u64, data: &[u8]) -> Result<Vec<String>, BtpNipsError> {
        if offset > self.next_offset {
            self.buffered += data.len();
            if self.buffered > MAX_BUFFERED {
                return Err(BtpNipsError::MessageTooLarge(self.buffered));
            }
            self.out_of_order.insert(offset, data.to_vec());
            return Ok(Vec::new());
        }
        let mut out = self.take(offset, data)?;
        while let Some((&off, _)) = self.out_of_order.first_key_value() {
            if off > self.next_offset {
                break;
            }
            let chunk = self.out_of_order.remove(&off).expect("present");
            self.buffered -= chunk.len();
            out.extend(self.take(off, &chunk)?);
        }
        Ok(out)
    }

    fn take(&mut self, offset: u64, data: &[u8]) -> Result<Vec<String>, BtpNipsError> {
        let skip = (self.next_offset - offset) as usize;
        if skip >= data.len() {
            return Ok(Vec::new());
        }
        self.next_offset += (data.len() - skip) as u64;
        self.decoder.push(&data[skip..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::btpnips::framing::encode_message;

    #[test]
    fn reorders_and_skips_retransmissions() {
        let mut wire = encode_message(r#"["EOSE","a"]"#).unwrap();
        wire.extend(encode_message(r#"["EOSE","b"]"#).unwrap());
        let (x, y) = wire.split_at(5);
        let mut s = RecvStream::default();
        assert!(s.push(5, y).unwrap().is_empty());
        let got = s.push(0, x).unwrap();
        assert_eq!(got, vec![r#"["EOSE","a"]"#, r#"["EOSE","b"]"#]);
        assert!(s.push(0, &wire).unwrap().is_empty(), "a resend of consumed bytes yields nothing");
    }
}
