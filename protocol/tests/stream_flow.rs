//! STREAM flow control (RFC 29 §3.3, §4.4, §4.5): stream ids, data windows, money windows
//! and reading a peer's limits.

use proptest::prelude::*;
use protocol::ilp::Address;
use protocol::stream::flow::*;
use protocol::stream::{CloseCode, Frame};

// ---------------------------------------------------------------- Side / StreamIds

#[test]
fn side_parity() {
    assert!(Side::Client.opens(1) && Side::Client.opens(21) && !Side::Client.opens(2));
    assert!(Side::Server.opens(2) && !Side::Server.opens(1));
    assert!(!Side::Client.opens(0) && !Side::Server.opens(0));
    assert_eq!(Side::Client.peer(), Side::Server);
    assert_eq!(Side::Server.peer(), Side::Client);
    assert_eq!(Side::Client.first_stream_id(), 1);
    assert_eq!(Side::Server.first_stream_id(), 2);
}

#[test]
fn client_opens_odd_ids_up_to_default_limit() {
    let mut ids = StreamIds::new(Side::Client, StreamIds::DEFAULT_MAX_STREAM_ID);
    let opened: Vec<u64> = (0..10).map(|_| ids.open_local().unwrap()).collect();
    assert_eq!(opened, vec![1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    assert_eq!(ids.blocked_frame(), Some(Frame::ConnectionStreamIdBlocked { max_stream_id: 21 }));
    let err = ids.open_local().unwrap_err();
    assert_eq!(err, FlowError::TooManyStreams { id: 21, max: 20 });
    assert_eq!(err.close_code(), CloseCode::StreamIdError);
    // Nothing consumed by the failure; a raised limit unblocks.
    ids.on_remote_max_stream_id(22);
    assert_eq!(ids.blocked_frame(), None);
    assert_eq!(ids.open_local(), Ok(21));
}

#[test]
fn server_opens_even_ids_up_to_default_limit() {
    let mut ids = StreamIds::new(Side::Server, 20);
    let opened: Vec<u64> = (0..10).map(|_| ids.open_local().unwrap()).collect();
    assert_eq!(opened, vec![2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    assert_eq!(ids.open_local(), Err(FlowError::TooManyStreams { id: 22, max: 20 }));
}

#[test]
fn remote_max_stream_id_only_grows() {
    let mut ids = StreamIds::new(Side::Client, 20);
    assert_eq!(ids.remote_allows(), 20);
    ids.on_remote_max_stream_id(40);
    assert_eq!(ids.remote_allows(), 40);
    ids.on_remote_max_stream_id(10); // out of order / smaller: ignored
    assert_eq!(ids.remote_allows(), 40);
    // A remote that allows fewer than the default still does not shrink the assumption.
    let mut small = StreamIds::new(Side::Server, 20);
    small.on_remote_max_stream_id(4);
    assert_eq!(small.remote_allows(), 20);
}

#[test]
fn advertised_limit_zero_blocks_remote_until_raised() {
    let mut ids = StreamIds::new(Side::Client, 0);
    // We advertise 0: the server may not open any stream.
    assert_eq!(ids.advertise(), Frame::ConnectionMaxStreamId { max_stream_id: 0 });
    assert_eq!(ids.check_remote(2), Err(FlowError::TooManyStreams { id: 2, max: 0 }));
    assert_eq!(ids.raise_max_remote_id(2), Some(Frame::ConnectionMaxStreamId { max_stream_id: 2 }));
    assert_eq!(ids.check_remote(2), Ok(()));
    assert_eq!(ids.raise_max_remote_id(1), None); // never shrinks
    assert_eq!(ids.max_remote_id(), 2);
    assert_eq!(ids.open_local(), Ok(1));
}

#[test]
fn parity_errors_server_side() {
    // We are the server: the client must use odd ids.
    let mut ids = StreamIds::new(Side::Server, 20);
    assert_eq!(ids.check_remote(1), Ok(()));
    assert_eq!(ids.check_remote(19), Ok(()));
    let err = ids.check_remote(2).unwrap_err();
    assert_eq!(err, FlowError::StreamId { id: 2 });
    assert_eq!(err.close_code(), CloseCode::ProtocolViolation);
    assert_eq!(ids.check_remote(0), Err(FlowError::StreamId { id: 0 }));
    // Once we opened stream 2, the client may send frames about it.
    assert_eq!(ids.open_local(), Ok(2));
    assert_eq!(ids.check_remote(2), Ok(()));
    assert_eq!(ids.check_remote(4), Err(FlowError::StreamId { id: 4 }));
}

#[test]
fn parity_errors_client_side() {
    // We are the client: the server must use even ids.
    let mut ids = StreamIds::new(Side::Client, 20);
    assert_eq!(ids.check_remote(2), Ok(()));
    assert_eq!(ids.check_remote(20), Ok(()));
    assert_eq!(ids.check_remote(1), Err(FlowError::StreamId { id: 1 }));
    assert_eq!(ids.check_remote(0), Err(FlowError::StreamId { id: 0 }));
    assert_eq!(ids.open_local(), Ok(1));
    assert_eq!(ids.check_remote(1), Ok(()));
    assert_eq!(ids.check_remote(3), Err(FlowError::StreamId { id: 3 }));
}

#[test]
fn too_many_remote_streams() {
    let server = StreamIds::new(Side::Server, 20);
    assert_eq!(server.check_remote(19), Ok(()));
    let err = server.check_remote(21).unwrap_err();
    assert_eq!(err, FlowError::TooManyStreams { id: 21, max: 20 });
    assert_eq!(err.close_code(), CloseCode::StreamIdError);

    let client = StreamIds::new(Side::Client, 20);
    assert_eq!(client.check_remote(20), Ok(())); // boundary: id == max allowed
    assert_eq!(client.check_remote(22), Err(FlowError::TooManyStreams { id: 22, max: 20 }));
    assert_eq!(client.check_remote(u64::MAX - 1), Err(FlowError::TooManyStreams { id: u64::MAX - 1, max: 20 }));
}

#[test]
fn remote_stream_close_raises_limit_by_two() {
    let mut ids = StreamIds::new(Side::Server, 20);
    assert_eq!(ids.check_remote(21), Err(FlowError::TooManyStreams { id: 21, max: 20 }));
    assert_eq!(ids.on_remote_stream_closed(), Frame::ConnectionMaxStreamId { max_stream_id: 22 });
    assert_eq!(ids.check_remote(21), Ok(()));
    let mut top = StreamIds::new(Side::Server, u64::MAX - 1);
    assert_eq!(top.on_remote_stream_closed(), Frame::ConnectionMaxStreamId { max_stream_id: u64::MAX });
}

#[test]
fn many_local_ids_under_a_large_remote_limit() {
    let mut ids = StreamIds::new(Side::Client, 20);
    ids.on_remote_max_stream_id(u64::MAX);
    for _ in 0..1000 {
        assert!(ids.open_local().is_ok());
    }
    assert_eq!(ids.next_local_id(), Some(2001));
    assert_eq!(ids.blocked_frame(), None);
    // Our own ids are valid in remote frames once opened, not before.
    assert_eq!(ids.check_remote(1999), Ok(()));
    assert_eq!(ids.check_remote(2001), Err(FlowError::StreamId { id: 2001 }));
}

#[test]
fn advertise_frame() {
    let ids = StreamIds::new(Side::Client, 20);
    assert_eq!(ids.advertise(), Frame::ConnectionMaxStreamId { max_stream_id: 20 });
    assert_eq!(ids.side(), Side::Client);
}

// ---------------------------------------------------------------- FlowError

#[test]
fn close_codes() {
    let cases = [
        (FlowError::StreamId { id: 2 }, CloseCode::ProtocolViolation),
        (FlowError::TooManyStreams { id: 21, max: 20 }, CloseCode::StreamIdError),
        (FlowError::DataOverLimit { stream_id: 1, end: 11, max: 10 }, CloseCode::FlowControlError),
        (FlowError::ConnectionDataOverLimit { end: 11, max: 10 }, CloseCode::FlowControlError),
        (FlowError::MoneyOverLimit { stream_id: 1, total: 11, max: 10 }, CloseCode::FlowControlError),
        (FlowError::StreamClosed { stream_id: 3 }, CloseCode::StreamStateError),
    ];
    for (err, code) in cases {
        assert_eq!(err.close_code(), code, "{err}");
        match err.connection_close() {
            Frame::ConnectionClose { code: c, message } => {
                assert_eq!(c, code);
                assert_eq!(message, err.to_string());
                assert!(!message.is_empty());
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- RecvWindow

#[test]
fn recv_window_exact_boundary() {
    let w = RecvWindow::new(100);
    assert_eq!(w.max_offset(), 100);
    assert_eq!(w.check(0, 100), Ok(())); // end == max: allowed
    assert_eq!(w.check(99, 1), Ok(()));
    assert_eq!(w.check(100, 0), Ok(()));
    assert_eq!(w.check(0, 101), Err((101, 100))); // end == max + 1: refused
    assert_eq!(w.check(100, 1), Err((101, 100)));
    assert_eq!(w.check(u64::MAX, 1), Err((u64::MAX, 100))); // overflow reported as u64::MAX
    assert_eq!(w.check_stream(7, 100, 1), Err(FlowError::DataOverLimit { stream_id: 7, end: 101, max: 100 }));
    assert_eq!(w.check_connection(50, 51), Err(FlowError::ConnectionDataOverLimit { end: 101, max: 100 }));
    assert_eq!(w.check_stream(7, 0, 100), Ok(()));
}

#[test]
fn recv_window_max_u64_accepts_to_the_end() {
    let w = RecvWindow::new(u64::MAX);
    assert_eq!(w.check(u64::MAX - 10, 10), Ok(()));
    assert_eq!(w.check(u64::MAX - 10, 11), Err((u64::MAX, u64::MAX)));
}

#[test]
fn recv_window_advertises_after_half_window() {
    let mut w = RecvWindow::new(100);
    assert_eq!(w.stream_frame(1), Frame::StreamMaxData { stream_id: 1, max_offset: 100 });
    assert_eq!(w.on_consumed(10), None);
    assert_eq!(w.on_consumed(49), None);
    assert_eq!(w.max_offset(), 100);
    assert_eq!(w.on_consumed(50), Some(150)); // half the window consumed
    assert_eq!(w.max_offset(), 150);
    assert_eq!(w.stream_frame(1), Frame::StreamMaxData { stream_id: 1, max_offset: 150 });
    assert_eq!(w.connection_frame(), Frame::ConnectionMaxData { max_offset: 150 });
    assert_eq!(w.on_consumed(99), None); // only 49 since last advert
    assert_eq!(w.on_consumed(100), Some(200));
    assert_eq!(w.on_consumed(400), Some(500)); // big jump
    assert_eq!(w.consumed(), 400);
    assert_eq!(w.window(), 100);
}

#[test]
fn recv_window_never_shrinks() {
    let mut w = RecvWindow::new(100);
    assert_eq!(w.on_consumed(80), Some(180));
    // A stale (smaller) running total is ignored.
    assert_eq!(w.on_consumed(10), None);
    assert_eq!(w.max_offset(), 180);
    assert_eq!(w.consumed(), 80);
    assert_eq!(w.on_consumed(80), None);
    assert_eq!(w.max_offset(), 180);
}

#[test]
fn recv_window_odd_and_tiny_windows() {
    let mut w = RecvWindow::new(3); // half rounds up to 2
    assert_eq!(w.on_consumed(1), None);
    assert_eq!(w.on_consumed(2), Some(5));
    let mut one = RecvWindow::new(1);
    assert_eq!(one.on_consumed(1), Some(2));
    let mut zero = RecvWindow::new(0);
    assert_eq!(zero.check(0, 0), Ok(()));
    assert_eq!(zero.check(0, 1), Err((1, 0)));
    assert_eq!(zero.on_consumed(0), None);
    assert_eq!(zero.max_offset(), 0);
}

#[test]
fn recv_window_saturates_at_u64_max() {
    let mut w = RecvWindow::new(u64::MAX / 2 + 10);
    assert_eq!(w.on_consumed(u64::MAX - 5), Some(u64::MAX));
    assert_eq!(w.on_consumed(u64::MAX), None);
    assert_eq!(w.max_offset(), u64::MAX);
}

// ---------------------------------------------------------------- SendWindow

#[test]
fn send_window_defaults_and_blocking() {
    let mut s = SendWindow::new();
    assert_eq!(SendWindow::DEFAULT_REMOTE_MAX, 16_384);
    assert_eq!(s, SendWindow::default());
    assert_eq!(s.available(), 16_384);
    assert_eq!(s.blocked_frame(1), None);
    s.on_sent(16_000);
    assert_eq!(s.available(), 384);
    s.on_sent(384);
    assert_eq!(s.available(), 0);
    assert_eq!(s.sent(), 16_384);
    assert_eq!(s.blocked_frame(5), Some(Frame::StreamDataBlocked { stream_id: 5, max_offset: 16_384 }));
    assert_eq!(s.connection_blocked_frame(), Some(Frame::ConnectionDataBlocked { max_offset: 16_384 }));
    s.on_remote_max(20_000);
    assert_eq!(s.available(), 3_616);
    assert_eq!(s.blocked_frame(5), None);
    assert_eq!(s.connection_blocked_frame(), None);
}

#[test]
fn send_window_ignores_out_of_order_smaller_max() {
    let mut s = SendWindow::new();
    s.on_remote_max(50_000);
    s.on_remote_max(30_000); // arrived late: ignored
    assert_eq!(s.remote_max(), 50_000);
    s.on_remote_max(1_000); // below the assumed default: ignored as well
    assert_eq!(s.remote_max(), 50_000);
    s.on_remote_max(50_000);
    assert_eq!(s.remote_max(), 50_000);
}

#[test]
fn send_window_never_underflows() {
    let mut s = SendWindow::with_remote_max(10);
    s.on_sent(15); // caller overshot
    assert_eq!(s.available(), 0);
    s.on_sent(u64::MAX);
    assert_eq!(s.sent(), u64::MAX);
    assert_eq!(s.available(), 0);
    s.on_remote_max(u64::MAX);
    assert_eq!(s.available(), 0);
    let unlimited = SendWindow::with_remote_max(u64::MAX);
    assert_eq!(unlimited.available(), u64::MAX);
}

// ---------------------------------------------------------------- MoneyWindow

#[test]
fn money_window_limits() {
    let mut m = MoneyWindow::new(1_000);
    assert_eq!(m.accept(1_000), Ok(())); // exactly up to receive max
    assert_eq!(m.accept(1_001), Err((1_001, 1_000)));
    m.on_received(600);
    assert_eq!(m.available(), 400);
    assert_eq!(m.accept(400), Ok(()));
    assert_eq!(m.accept(401), Err((1_001, 1_000)));
    assert_eq!(m.check(3, 401), Err(FlowError::MoneyOverLimit { stream_id: 3, total: 1_001, max: 1_000 }));
    assert_eq!(m.advertise(3), Frame::StreamMaxMoney { stream_id: 3, receive_max: 1_000, total_received: 600 });
    assert!(!m.raise_receive_max(500)); // no reneging
    assert_eq!(m.receive_max(), 1_000);
    assert!(m.raise_receive_max(2_000));
    assert_eq!(m.accept(1_400), Ok(()));
    assert_eq!(m.total_received(), 600);
}

#[test]
fn money_window_u64_max_receive_max() {
    let mut m = MoneyWindow::new(u64::MAX);
    assert_eq!(m.accept(u64::MAX), Ok(()));
    m.on_received(u64::MAX - 5);
    assert_eq!(m.accept(5), Ok(())); // total == u64::MAX: allowed
    assert_eq!(m.accept(6), Err((u64::MAX, u64::MAX))); // would overflow u64
    assert_eq!(m.check(1, 6), Err(FlowError::MoneyOverLimit { stream_id: 1, total: u64::MAX, max: u64::MAX }));
    m.on_received(5);
    assert_eq!(m.available(), 0);
    assert_eq!(m.accept(0), Ok(()));
    assert_eq!(m.accept(1), Err((u64::MAX, u64::MAX)));
    m.on_received(10); // saturates, no panic
    assert_eq!(m.total_received(), u64::MAX);
    assert_eq!(m.advertise(1), Frame::StreamMaxMoney { stream_id: 1, receive_max: u64::MAX, total_received: u64::MAX });
}

#[test]
fn money_window_zero() {
    let m = MoneyWindow::new(0);
    assert_eq!(m.accept(0), Ok(()));
    assert_eq!(m.accept(1), Err((1, 0)));
}

// ---------------------------------------------------------------- remote_limits

#[test]
fn remote_limits_over_mixed_frames() {
    let frames = vec![
        Frame::ConnectionNewAddress { source_account: Address::new("test.peer.x").unwrap() },
        Frame::ConnectionMaxStreamId { max_stream_id: 20 },
        Frame::ConnectionMaxData { max_offset: 65_534 },
        Frame::StreamMoney { stream_id: 1, shares: 1 },
        Frame::StreamMaxData { stream_id: 1, max_offset: 16_384 },
        Frame::StreamMaxMoney { stream_id: 1, receive_max: u64::MAX, total_received: 42 },
        Frame::StreamData { stream_id: 1, offset: 0, data: b"hi".to_vec() },
        Frame::StreamClose { stream_id: 3, code: CloseCode::NoError, message: String::new() },
        Frame::ConnectionMaxStreamId { max_stream_id: 12 }, // smaller: the larger wins
        Frame::StreamMaxData { stream_id: 2, max_offset: 100 },
        Frame::StreamMaxMoney { stream_id: 2, receive_max: 0, total_received: 0 },
        Frame::ConnectionClose { code: CloseCode::FlowControlError, message: "too much".into() },
        Frame::StreamClose { stream_id: 5, code: CloseCode::ApplicationError, message: "bye".into() },
        Frame::ConnectionClose { code: CloseCode::NoError, message: "second".into() },
        Frame::ConnectionMaxData { max_offset: 70_000 },
        Frame::StreamDataBlocked { stream_id: 1, max_offset: 5 },
        Frame::ConnectionAssetDetails { asset_code: "XRP".into(), asset_scale: 9 },
    ];
    let limits = remote_limits(&frames);
    assert_eq!(
        limits,
        RemoteLimits {
            max_stream_id: Some(20),
            connection_max_data: Some(70_000),
            stream_max_data: vec![(1, 16_384), (2, 100)],
            stream_max_money: vec![(1, u64::MAX, 42), (2, 0, 0)],
            closed_streams: vec![
                (3, CloseCode::NoError, String::new()),
                (5, CloseCode::ApplicationError, "bye".into()),
            ],
            connection_close: Some((CloseCode::FlowControlError, "too much".into())),
        }
    );
}

#[test]
fn remote_limits_empty() {
    assert_eq!(remote_limits(&[]), RemoteLimits::default());
    let only_data = [Frame::StreamData { stream_id: 1, offset: 0, data: vec![1] }];
    let limits = remote_limits(&only_data);
    assert_eq!(limits.max_stream_id, None);
    assert_eq!(limits.connection_max_data, None);
    assert!(limits.stream_max_data.is_empty() && limits.closed_streams.is_empty());
}

#[test]
fn remote_limits_feed_send_windows() {
    // A reply carrying a smaller StreamMaxData than already known leaves the window alone.
    let mut s = SendWindow::new();
    let mut ids = StreamIds::new(Side::Client, 20);
    let frames = [
        Frame::StreamMaxData { stream_id: 1, max_offset: 40_000 },
        Frame::StreamMaxData { stream_id: 1, max_offset: 30_000 },
        Frame::ConnectionMaxStreamId { max_stream_id: 100 },
    ];
    let limits = remote_limits(&frames);
    for (_, max) in &limits.stream_max_data {
        s.on_remote_max(*max);
    }
    if let Some(max) = limits.max_stream_id {
        ids.on_remote_max_stream_id(max);
    }
    assert_eq!(s.remote_max(), 40_000);
    assert_eq!(ids.remote_allows(), 100);
}

// ---------------------------------------------------------------- proptests

#[derive(Debug, Clone)]
enum Op {
    Consume(u64),
    Send(u64),
    RemoteMax(u64),
    Receive(u64),
    RaiseReceiveMax(u64),
    RemoteMaxStreamId(u64),
    OpenLocal,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..50_000).prop_map(Op::Consume),
        prop_oneof![0u64..40_000, any::<u64>()].prop_map(Op::Send),
        prop_oneof![0u64..100_000, any::<u64>()].prop_map(Op::RemoteMax),
        prop_oneof![0u64..10_000, any::<u64>()].prop_map(Op::Receive),
        any::<u64>().prop_map(Op::RaiseReceiveMax),
        prop_oneof![0u64..100, any::<u64>()].prop_map(Op::RemoteMaxStreamId),
        Just(Op::OpenLocal),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random operation sequences never break the invariants: advertised limits never
    /// decrease, `available` never underflows, accepted data / money stays within limits,
    /// and local stream ids keep their parity and stay within the remote's limit.
    #[test]
    fn flow_invariants(
        window in prop_oneof![0u64..70_000, any::<u64>()],
        receive_max in prop_oneof![0u64..100_000, Just(u64::MAX)],
        server in any::<bool>(),
        ops in proptest::collection::vec(op(), 0..64),
    ) {
        let side = if server { Side::Server } else { Side::Client };
        let mut recv = RecvWindow::new(window);
        let mut send = SendWindow::new();
        let mut money = MoneyWindow::new(receive_max);
        let mut ids = StreamIds::new(side, 20);
        let mut consumed_total = 0u64;
        let mut last_local: Option<u64> = None;

        for op in ops {
            let (before_max, before_send_max, before_rmax, before_allows) =
                (recv.max_offset(), send.remote_max(), money.receive_max(), ids.remote_allows());
            match op {
                Op::Consume(n) => {
                    // The application can only consume bytes that were accepted.
                    consumed_total = consumed_total.saturating_add(n).min(recv.max_offset());
                    if let Some(adv) = recv.on_consumed(consumed_total) {
                        prop_assert!(adv > before_max);
                        prop_assert_eq!(adv, recv.max_offset());
                        prop_assert_eq!(adv, consumed_total.saturating_add(window));
                    }
                    prop_assert!(recv.check(0, recv.max_offset()).is_ok());
                    if recv.max_offset() < u64::MAX {
                        prop_assert!(recv.check(0, recv.max_offset() + 1).is_err());
                    }
                }
                Op::Send(n) => {
                    let avail = send.available();
                    let sent_before = send.sent();
                    let n = n.min(avail);
                    send.on_sent(n);
                    prop_assert_eq!(send.sent(), sent_before + n);
                    prop_assert_eq!(send.available(), avail - n);
                    prop_assert!(send.sent() <= send.remote_max());
                    prop_assert_eq!(send.blocked_frame(1).is_some(), send.available() == 0);
                }
                Op::RemoteMax(m) => {
                    send.on_remote_max(m);
                    prop_assert_eq!(send.remote_max(), before_send_max.max(m));
                }
                Op::Receive(a) => {
                    let total_before = money.total_received();
                    match money.accept(a) {
                        Ok(()) => {
                            money.on_received(a);
                            prop_assert_eq!(money.total_received(), total_before + a);
                        }
                        Err((total, max)) => {
                            prop_assert_eq!(max, money.receive_max());
                            prop_assert!(total > max || total == u64::MAX);
                            prop_assert!(u128::from(total_before) + u128::from(a) > u128::from(max));
                        }
                    }
                    prop_assert!(money.total_received() <= money.receive_max());
                }
                Op::RaiseReceiveMax(m) => {
                    let grew = money.raise_receive_max(m);
                    prop_assert_eq!(grew, m > before_rmax);
                }
                Op::RemoteMaxStreamId(m) => ids.on_remote_max_stream_id(m),
                Op::OpenLocal => match ids.open_local() {
                    Ok(id) => {
                        prop_assert!(side.opens(id));
                        prop_assert!(id <= ids.remote_allows());
                        if let Some(prev) = last_local { prop_assert_eq!(id, prev + 2); }
                        prop_assert!(ids.check_remote(id).is_ok());
                        last_local = Some(id);
                    }
                    Err(FlowError::TooManyStreams { id, max }) => {
                        prop_assert!(id > max);
                        prop_assert!(ids.blocked_frame().is_some());
                    }
                    Err(other) => prop_assert!(false, "unexpected error {other:?}"),
                },
            }
            // Global monotonicity: nothing ever shrinks.
            prop_assert!(recv.max_offset() >= before_max);
            prop_assert!(send.remote_max() >= before_send_max);
            prop_assert!(money.receive_max() >= before_rmax);
            prop_assert!(ids.remote_allows() >= before_allows);
            prop_assert!(send.available() <= send.remote_max());
        }
    }

    /// `check` agrees with exact arithmetic for any offset / length.
    #[test]
    fn recv_check_matches_u128(window in any::<u64>(), offset in any::<u64>(), len in any::<u64>()) {
        let w = RecvWindow::new(window);
        let fits = u128::from(offset) + u128::from(len) <= u128::from(window);
        prop_assert_eq!(w.check(offset, len).is_ok(), fits);
    }

    /// Arbitrary running totals (even shrinking or oversized ones) never shrink the window.
    #[test]
    fn recv_max_offset_monotone(window in any::<u64>(), totals in proptest::collection::vec(any::<u64>(), 0..32)) {
        let mut w = RecvWindow::new(window);
        let mut last = w.max_offset();
        for t in totals {
            let adv = w.on_consumed(t);
            prop_assert!(w.max_offset() >= last);
            if let Some(a) = adv { prop_assert!(a > last); }
            last = w.max_offset();
        }
    }

    /// Arbitrary send / remote-max sequences without clamping never underflow `available`.
    #[test]
    fn send_available_never_underflows(ops in proptest::collection::vec((any::<bool>(), any::<u64>()), 0..32)) {
        let mut s = SendWindow::new();
        for (is_send, v) in ops {
            if is_send { s.on_sent(v) } else { s.on_remote_max(v) }
            prop_assert_eq!(u128::from(s.available()), u128::from(s.remote_max()).saturating_sub(u128::from(s.sent())));
        }
    }

    /// Remote stream ids: accepted iff (remote parity and ≤ our limit) or (our parity and
    /// already opened by us).
    #[test]
    fn check_remote_rule(server in any::<bool>(), opened in 0u64..12, limit in 0u64..64, id in 0u64..80) {
        let side = if server { Side::Server } else { Side::Client };
        let mut ids = StreamIds::new(side, limit);
        ids.on_remote_max_stream_id(u64::MAX);
        let mut mine = Vec::new();
        for _ in 0..opened { mine.push(ids.open_local().unwrap()); }
        let expected = if side.peer().opens(id) { id <= limit } else { mine.contains(&id) };
        prop_assert_eq!(ids.check_remote(id).is_ok(), expected);
        if let Err(e) = ids.check_remote(id) {
            let code = e.close_code();
            prop_assert!(code == CloseCode::ProtocolViolation || code == CloseCode::StreamIdError);
        }
    }
}
