use std::time::{Duration, Instant};

use super::*;
use crate::ilp::{Address, ErrorCode, Reject};
use crate::stream::{CloseCode, Frame, IlpPacketType, StreamPacket};

fn machine(max_in_flight: usize) -> SendMachine {
    let config = SenderConfig { max_in_flight, max_data_per_packet: 1_000, ..SenderConfig::default() };
    let announce =
        Announce { source_account: Address::new("test.alice").unwrap(), asset_code: "USD".into(), asset_scale: 6 };
    SendMachine::new(config, announce)
}

fn job(stream_id: u64, len: usize, amount: u64) -> Job {
    Job { stream_id, data: vec![b'x'; len], amount, min_received: 0 }
}

fn reply(t: &Transmit, kind: IlpPacketType, arrived: u64, frames: Vec<Frame>) -> Option<StreamPacket> {
    Some(StreamPacket { sequence: t.sequence, ilp_packet_type: kind, prepare_amount: arrived, frames })
}

fn fulfill(m: &mut SendMachine, t: &Transmit) {
    m.on_fulfill(t.sequence, reply(t, IlpPacketType::Fulfill, t.source_amount, vec![]));
}

fn rejection(code: ErrorCode) -> Reject {
    Reject { code, triggered_by: None, message: "no".into(), data: vec![] }
}

/// (stream id, offset, length) of the packet's StreamData, if any.
fn data_of(t: &Transmit) -> Option<(u64, u64, usize)> {
    t.packet.frames.iter().find_map(|f| match f {
        Frame::StreamData { stream_id, offset, data } => Some((*stream_id, *offset, data.len())),
        _ => None,
    })
}

fn drain(m: &mut SendMachine, now: Instant) -> Vec<Transmit> {
    std::iter::from_fn(|| m.poll_transmit(now)).collect()
}

fn done(m: &mut SendMachine) -> Vec<(JobId, Result<(), JobError>)> {
    std::iter::from_fn(|| m.poll_event())
        .filter_map(|e| match e {
            Event::JobDone { job, result } => Some((job, result)),
            Event::PathFee { .. } => None,
        })
        .collect()
}

#[test]
fn keeps_the_window_full_and_no_more() {
    let now = Instant::now();
    let mut m = machine(4);
    let ids: Vec<_> = (0..10).map(|_| m.push(job(1, 500, 0))).collect();
    let sent = drain(&mut m, now);
    assert_eq!(sent.len(), 4, "max_in_flight Prepares at once");
    let offsets: Vec<_> = sent.iter().map(|t| data_of(t).unwrap().1).collect();
    assert_eq!(offsets, vec![0, 500, 1000, 1500], "increasing offsets in queue order");
    assert_eq!(m.outstanding(), 4);
    fulfill(&mut m, &sent[0]);
    assert_eq!(done(&mut m), vec![(ids[0], Ok(()))]);
    let next = drain(&mut m, now);
    assert_eq!(next.len(), 1, "one answer frees one slot");
    assert_eq!(data_of(&next[0]).unwrap().1, 2000);
    assert_eq!(next[0].sequence, 5, "a new sequence per Prepare");
}

#[test]
fn announces_until_a_packet_is_fulfilled() {
    let now = Instant::now();
    let mut m = machine(4);
    m.push(job(1, 10, 0));
    m.push(job(1, 10, 0));
    let sent = drain(&mut m, now);
    assert!(sent.iter().all(|t| matches!(t.packet.frames[0], Frame::ConnectionNewAddress { .. })));
    fulfill(&mut m, &sent[0]);
    m.push(job(1, 10, 0));
    let later = drain(&mut m, now);
    assert!(matches!(later[0].packet.frames[0], Frame::StreamData { .. }), "no announce once one arrived");
}

#[test]
fn outcomes_are_in_order_per_stream() {
    let now = Instant::now();
    let mut m = machine(8);
    let a = m.push(job(1, 100, 0));
    let b = m.push(job(1, 100, 0));
    let c = m.push(job(3, 100, 0));
    let sent = drain(&mut m, now);
    fulfill(&mut m, &sent[1]);
    assert!(done(&mut m).is_empty(), "b waits for a: its bytes sit after a gap");
    fulfill(&mut m, &sent[2]);
    assert_eq!(done(&mut m), vec![(c, Ok(()))], "another stream does not wait");
    fulfill(&mut m, &sent[0]);
    assert_eq!(done(&mut m), vec![(a, Ok(())), (b, Ok(()))]);
}

#[test]
fn a_temporary_failure_repeats_the_same_frames_after_a_backoff() {
    let now = Instant::now();
    let mut m = machine(2);
    let a = m.push(job(1, 100, 7));
    let first = m.poll_transmit(now).unwrap();
    m.on_reject(first.sequence, rejection(ErrorCode::T04_INSUFFICIENT_LIQUIDITY), None, now);
    assert!(m.poll_transmit(now).is_none(), "nothing until the backoff is over");
    let at = m.poll_timeout().expect("a retry is scheduled");
    assert_eq!(at, now + Duration::from_millis(250));
    m.handle_timeout(at - Duration::from_millis(1));
    assert!(m.poll_transmit(at).is_none());
    m.handle_timeout(at);
    let again = m.poll_transmit(at).unwrap();
    assert_eq!(again.packet.frames, first.packet.frames, "same frames, same offset, same money");
    assert_eq!(again.source_amount, 7);
    assert!(again.sequence > first.sequence);
    fulfill(&mut m, &again);
    assert_eq!(done(&mut m), vec![(a, Ok(()))]);
}

#[test]
fn tries_run_out() {
    let mut now = Instant::now();
    let mut m = machine(2);
    let a = m.push(job(1, 100, 0));
    for _ in 0..8 {
        let t = m.poll_transmit(now).expect("a try");
        m.on_reject(t.sequence, rejection(ErrorCode::R00_TRANSFER_TIMED_OUT), None, now);
        now += Duration::from_secs(10);
        m.handle_timeout(now);
    }
    assert!(m.poll_transmit(now).is_none());
    let out = done(&mut m);
    assert!(matches!(&out[..], [(id, Err(JobError::Unreachable { tries: 8, .. }))] if *id == a), "{out:?}");
}

#[test]
fn a_final_reject_of_the_last_data_gives_its_offsets_back() {
    let now = Instant::now();
    let mut m = machine(4);
    let a = m.push(job(1, 100, 0));
    let t = m.poll_transmit(now).unwrap();
    m.on_reject(t.sequence, rejection(ErrorCode::F99_APPLICATION_ERROR), None, now);
    assert!(
        matches!(&done(&mut m)[..], [(id, Err(JobError::Rejected(r)))] if *id == a && r.code == ErrorCode::F99_APPLICATION_ERROR)
    );
    let b = m.push(job(1, 50, 0));
    let t = m.poll_transmit(now).unwrap();
    assert_eq!(data_of(&t), Some((1, 0, 50)), "the refused bytes never counted");
    fulfill(&mut m, &t);
    assert_eq!(done(&mut m), vec![(b, Ok(()))]);
}

#[test]
fn a_final_reject_before_later_data_breaks_the_stream() {
    let now = Instant::now();
    let mut m = machine(8);
    let a = m.push(job(1, 100, 0));
    let b = m.push(job(1, 100, 0));
    let c = m.push(job(3, 100, 0));
    let pay = m.push(Job { stream_id: 1, data: vec![], amount: 5, min_received: 0 });
    let sent = drain(&mut m, now);
    assert_eq!(sent.len(), 4);
    fulfill(&mut m, &sent[1]);
    m.on_reject(sent[0].sequence, rejection(ErrorCode::F99_APPLICATION_ERROR), None, now);
    fulfill(&mut m, &sent[2]);
    fulfill(&mut m, &sent[3]);
    let out = done(&mut m);
    assert!(out.contains(&(c, Ok(()))), "{out:?}");
    assert!(out.contains(&(pay, Ok(()))), "money-only packets do not depend on offsets: {out:?}");
    assert!(out.iter().any(|(id, r)| *id == a && matches!(r, Err(JobError::Rejected(_)))));
    assert!(out.contains(&(b, Err(JobError::StreamBroken(1)))), "b's bytes can never be read: {out:?}");
    let d = m.push(job(1, 10, 0));
    assert_eq!(done(&mut m), vec![(d, Err(JobError::StreamBroken(1)))]);
    let e = m.push(job(5, 10, 0));
    let t = m.poll_transmit(now).unwrap();
    fulfill(&mut m, &t);
    assert_eq!(done(&mut m), vec![(e, Ok(()))], "a new stream works");
}

#[test]
fn raises_the_source_amount_for_the_paths_fee() {
    let now = Instant::now();
    let mut m = machine(2);
    let a = m.push(Job { stream_id: 1, data: vec![], amount: 100, min_received: 100 });
    let t = m.poll_transmit(now).unwrap();
    assert_eq!((t.source_amount, t.packet.prepare_amount), (100, 100));
    // Two connectors took 1 each: 98 arrived, below the minimum.
    m.on_reject(
        t.sequence,
        rejection(ErrorCode::F99_APPLICATION_ERROR),
        reply(&t, IlpPacketType::Reject, 98, vec![]),
        now,
    );
    let t2 = m.poll_transmit(now).expect("sent again at once");
    assert_eq!(t2.source_amount, 102);
    assert_eq!(t2.packet.frames, t.packet.frames);
    m.on_fulfill(t2.sequence, reply(&t2, IlpPacketType::Fulfill, 100, vec![]));
    assert_eq!(m.path_fee(), 2);
    assert_eq!(done(&mut m), vec![(a, Ok(()))]);
    m.push(Job { stream_id: 1, data: vec![], amount: 50, min_received: 50 });
    assert_eq!(m.poll_transmit(now).unwrap().source_amount, 52, "later packets include the fee");
}

#[test]
fn a_reply_for_another_sequence_is_ignored() {
    let now = Instant::now();
    let mut m = machine(2);
    m.push(job(1, 10, 0));
    let t = m.poll_transmit(now).unwrap();
    let forged = Some(StreamPacket {
        sequence: t.sequence + 1,
        ilp_packet_type: IlpPacketType::Fulfill,
        prepare_amount: 0,
        frames: vec![Frame::ConnectionClose { code: CloseCode::NoError, message: "x".into() }],
    });
    m.on_fulfill(t.sequence, forged);
    assert!(!m.is_closed(), "a close in a reply that does not echo our sequence does not count");
}

#[test]
fn the_receivers_window_limits_data_and_replies_raise_it() {
    let now = Instant::now();
    let config = SenderConfig { max_in_flight: 8, max_data_per_packet: 10_000, ..SenderConfig::default() };
    let announce = Announce { source_account: Address::new("test.a").unwrap(), asset_code: "X".into(), asset_scale: 0 };
    let mut m = SendMachine::new(config, announce);
    for _ in 0..3 {
        m.push(job(1, 7_000, 0));
    }
    let sent = drain(&mut m, now);
    assert_eq!(sent.len(), 2, "16 384 bytes assumed: the third 7 000 does not fit and is not split");
    m.on_fulfill(
        sent[0].sequence,
        reply(&sent[0], IlpPacketType::Fulfill, 0, vec![Frame::StreamMaxData { stream_id: 1, max_offset: 100_000 }]),
    );
    let more = drain(&mut m, now);
    assert_eq!(more.len(), 1);
    assert_eq!(data_of(&more[0]), Some((1, 14_000, 7_000)));
}

#[test]
fn a_full_window_with_nothing_in_flight_probes_then_fails() {
    let mut now = Instant::now();
    let mut m = machine(4);
    let a = m.push(job(1, 20_000, 0));
    let mut sent = drain(&mut m, now);
    for t in &sent {
        m.on_fulfill(t.sequence, reply(t, IlpPacketType::Fulfill, 0, vec![]));
    }
    let total: usize = sent.iter().filter_map(data_of).map(|d| d.2).sum();
    while let Some(t) = m.poll_transmit(now) {
        sent.push(t.clone());
        m.on_fulfill(t.sequence, reply(&t, IlpPacketType::Fulfill, 0, vec![]));
    }
    let total: usize = total + sent.iter().skip(4).filter_map(data_of).map(|d| d.2).sum::<usize>();
    assert_eq!(total, 16_384, "exactly the assumed window");
    let mut probes = 0;
    loop {
        match m.poll_transmit(now) {
            Some(t) => {
                assert!(t
                    .packet
                    .frames
                    .iter()
                    .any(|f| matches!(f, Frame::StreamDataBlocked { stream_id: 1, max_offset: 16_384 })));
                probes += 1;
                m.on_fulfill(t.sequence, reply(&t, IlpPacketType::Fulfill, 0, vec![]));
            }
            None => match m.poll_timeout() {
                Some(at) => {
                    now = at;
                    m.handle_timeout(now);
                }
                None => break,
            },
        }
    }
    let probes = probes + sent.iter().filter(|t| data_of(t).is_none()).count();
    assert_eq!(probes, 12, "max_blocked_tries probes, then the job fails");
    assert_eq!(done(&mut m), vec![(a, Err(JobError::Blocked))]);
}

#[test]
fn a_connection_close_fails_everything() {
    let now = Instant::now();
    let mut m = machine(1);
    let a = m.push(job(1, 10, 0));
    let b = m.push(job(3, 10, 0));
    let t = m.poll_transmit(now).unwrap();
    let close = vec![Frame::ConnectionClose { code: CloseCode::ApplicationError, message: "bye".into() }];
    m.on_reject(
        t.sequence,
        rejection(ErrorCode::F99_APPLICATION_ERROR),
        reply(&t, IlpPacketType::Reject, 0, close),
        now,
    );
    assert!(m.is_closed());
    let out = done(&mut m);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|(id, r)| (*id == a || *id == b) && r.is_err()));
    let c = m.push(job(1, 10, 0));
    assert!(matches!(&done(&mut m)[..], [(id, Err(JobError::Closed(_)))] if *id == c));
    assert!(m.poll_transmit(now).is_none());
}

#[test]
fn jobs_larger_than_a_packet_are_split_and_done_once() {
    let now = Instant::now();
    let mut m = machine(8);
    let a = m.push(job(1, 2_500, 9));
    let sent = drain(&mut m, now);
    assert_eq!(
        sent.iter().filter_map(data_of).map(|d| (d.1, d.2)).collect::<Vec<_>>(),
        vec![(0, 1000), (1000, 1000), (2000, 500)]
    );
    assert_eq!(sent.iter().map(|t| t.source_amount).collect::<Vec<_>>(), vec![9, 0, 0], "money with the first packet");
    for t in sent.iter().rev() {
        assert!(done(&mut m).is_empty());
        fulfill(&mut m, t);
    }
    assert_eq!(done(&mut m), vec![(a, Ok(()))]);
}

#[test]
fn abort_stops_sending_but_a_packet_in_flight_still_counts() {
    let now = Instant::now();
    let mut m = machine(4);
    let a = m.push(job(1, 10, 0));
    let b = m.push(job(3, 10, 5));
    let c = m.push(job(5, 10, 0));
    let sent = drain(&mut m, now);
    assert_eq!(sent.len(), 3);
    m.on_reject(sent[1].sequence, rejection(ErrorCode::T01_PEER_UNREACHABLE), None, now);
    let d = m.push(job(7, 10, 0)); // queued, never sent
    m.abort("peer restarted");
    let out = done(&mut m);
    assert!(out.contains(&(b, Err(JobError::Closed("peer restarted".into())))), "a retry is dropped: {out:?}");
    assert!(out.contains(&(d, Err(JobError::Closed("peer restarted".into())))), "a queued job fails: {out:?}");
    assert!(out.iter().all(|(id, _)| *id != a && *id != c), "a and c are still on their way: {out:?}");
    assert!(
        m.poll_transmit(now + Duration::from_secs(60)).is_none() && m.poll_timeout().is_none(),
        "nothing more is sent"
    );
    assert!(matches!(&done(&mut m)[..], []), "d was reported with b");
    fulfill(&mut m, &sent[0]);
    assert_eq!(done(&mut m), vec![(a, Ok(()))], "delivered before the abort took effect: the sender must know");
    m.on_reject(sent[2].sequence, rejection(ErrorCode::T01_PEER_UNREACHABLE), None, now);
    assert!(matches!(&done(&mut m)[..], [(id, Err(JobError::Closed(_)))] if *id == c), "not retried");
    assert!(m.is_idle());
}
