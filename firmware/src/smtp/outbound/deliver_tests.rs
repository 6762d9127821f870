//! The delivery session against a scripted next hop: replies of a pipelined envelope go to the
//! right recipients, no content follows when no recipient was accepted, and a kept session the
//! hop closed meanwhile is replaced without a failed delivery — with and without PIPELINING.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::*;
use crate::spool::{ClientInfo, Listener, Recipient, Stage, ENVELOPE_VERSION};

/// How the scripted hop behaves.
#[derive(Clone, Copy, Default)]
struct Script {
    pipelining: bool,
    /// Hang up right after answering the end of data (a host that closes idle sessions).
    close_after_data: bool,
    /// Answer `DATA` with 354 even when no recipient was accepted (against RFC 2920).
    always_354: bool,
}

struct Hop {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    /// Every command line, and `<content>` for every message received.
    lines: Arc<Mutex<Vec<String>>>,
}

impl Hop {
    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
    fn contents(&self) -> usize {
        self.lines().iter().filter(|l| *l == "<content>").count()
    }
}

/// A next hop that refuses `RCPT TO:<bad@partner.test>` and accepts every other recipient.
async fn hop(script: Script) -> Hop {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let lines = Arc::new(Mutex::new(vec![]));
    let (n, log) = (connections.clone(), lines.clone());
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            n.fetch_add(1, Ordering::SeqCst);
            let log = log.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r).lines();
                let _ = w.write_all(b"220 hop ESMTP\r\n").await;
                let (mut accepted, mut in_data) = (0, false);
                while let Ok(Some(line)) = r.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            log.lock().unwrap().push("<content>".into());
                            let _ = w.write_all(b"250 2.0.0 stored\r\n").await;
                            if script.close_after_data {
                                return;
                            }
                        }
                        continue;
                    }
                    log.lock().unwrap().push(line.clone());
                    let reply: &[u8] = match line.split(' ').next().unwrap_or("") {
                        "EHLO" if script.pipelining => {
                            b"250-hop\r\n250-PIPELINING\r\n250 SIZE 1000000\r\n"
                        }
                        "EHLO" => b"250-hop\r\n250 SIZE 1000000\r\n",
                        "RSET" => {
                            accepted = 0;
                            b"250 2.0.0 ok\r\n"
                        }
                        "MAIL" => {
                            accepted = 0;
                            b"250 2.1.0 ok\r\n"
                        }
                        "RCPT" if line.contains("<bad@") => b"550 5.1.1 no such user\r\n",
                        "RCPT" => {
                            accepted += 1;
                            b"250 2.1.5 ok\r\n"
                        }
                        "DATA" if accepted > 0 || script.always_354 => {
                            in_data = true;
                            b"354 go ahead\r\n"
                        }
                        "DATA" => b"554 5.5.1 no valid recipients\r\n",
                        "QUIT" => {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"502 5.5.2 not implemented\r\n",
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    Hop {
        addr,
        connections,
        lines,
    }
}

/// A scripted hop and a deliverer whose smarthost it is.
async fn hop_and_deliverer(script: Script) -> (Hop, Deliverer) {
    let hop = hop(script).await;
    let d = deliverer(&hop);
    (hop, d)
}

fn deliverer(hop: &Hop) -> Deliverer {
    let cfg = Arc::new(
        Config::parse(
            &format!("[delivery]\noutbound_smarthost = \"{}\"\n", hop.addr),
            "test",
        )
        .unwrap(),
    );
    Deliverer {
        resolver: super::super::route::Resolver::new(&cfg),
        tls: crate::tls::client_tls(&cfg).unwrap(),
        cache: ConnectionCache::new(),
        cfg,
    }
}

fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope {
        version: ENVELOPE_VERSION,
        id: "T1".into(),
        parent: None,
        stage: Stage::Deliver,
        arrived: 0,
        client: ClientInfo {
            ip: None,
            port: 0,
            helo: "client.example".into(),
            listener: Listener::Submission,
            tls: None,
            auth_user: None,
            auth_addresses: vec![],
            trusted_network: true,
        },
        mail_from: "alice@example.org".into(),
        body: None,
        smtputf8: false,
        ret: None,
        envid: None,
        size: 0,
        recipients: rcpts
            .iter()
            .map(|a| Recipient::new((*a).into(), None, None))
            .collect(),
        paused: None,
        checksum: None,
    }
}

/// One delivery of a small message to `rcpts`; the outcome of each, as a letter: D(elivered),
/// F(ailed), T (deferred).
async fn send(d: &Deliverer, rcpts: &[&str]) -> String {
    let env = envelope(rcpts);
    let list: Vec<String> = rcpts.iter().map(|r| r.to_string()).collect();
    let out = d
        .deliver_route(
            &Route::Smarthost,
            TlsLevel::May,
            &env,
            &list,
            b"Subject: t\r\n\r\n.leading dot\r\nbody\r\n",
        )
        .await;
    out.iter()
        .map(|o| match o {
            Outcome::Delivered { .. } => 'D',
            Outcome::Failed { .. } => 'F',
            Outcome::Deferred { .. } => 'T',
        })
        .collect()
}

#[tokio::test]
async fn each_reply_goes_to_its_recipient_and_the_session_is_kept() {
    for pipelining in [true, false] {
        let (hop, d) = hop_and_deliverer(Script {
            pipelining,
            ..Default::default()
        })
        .await;
        let (good, bad) = ("good@partner.test", "bad@partner.test");
        assert_eq!(
            send(&d, &[bad, good, bad]).await,
            "FDF",
            "pipelining {pipelining}"
        );
        assert_eq!(send(&d, &[good]).await, "D");
        assert_eq!(hop.connections.load(Ordering::SeqCst), 1, "one session");
        assert_eq!(hop.contents(), 2);
        // The reused session starts with RSET.
        let lines = hop.lines();
        let second_mail = lines.iter().rposition(|l| l.starts_with("MAIL")).unwrap();
        assert_eq!(lines[second_mail - 1], "RSET", "{lines:?}");
    }
}

#[tokio::test]
async fn no_content_follows_when_no_recipient_was_accepted() {
    for pipelining in [true, false] {
        let (hop, d) = hop_and_deliverer(Script {
            pipelining,
            ..Default::default()
        })
        .await;
        assert_eq!(send(&d, &["bad@partner.test"]).await, "F");
        assert_eq!(hop.contents(), 0, "pipelining {pipelining}");
        assert_eq!(send(&d, &["good@partner.test"]).await, "D");
        assert_eq!(hop.contents(), 1);
        assert_eq!(hop.connections.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test]
async fn a_hop_that_opens_data_for_no_recipient_gets_an_empty_end() {
    let (hop, d) = hop_and_deliverer(Script {
        pipelining: true,
        always_354: true,
        ..Default::default()
    })
    .await;
    assert_eq!(send(&d, &["bad@partner.test"]).await, "F");
    // The session is in step again: the next message goes over it.
    assert_eq!(send(&d, &["good@partner.test"]).await, "D");
    assert_eq!(hop.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_kept_session_the_hop_closed_is_replaced() {
    for pipelining in [true, false] {
        let (hop, d) = hop_and_deliverer(Script {
            pipelining,
            close_after_data: true,
            ..Default::default()
        })
        .await;
        assert_eq!(send(&d, &["good@partner.test"]).await, "D");
        // Give the hop's close time to arrive, so the kept session is known dead.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(
            send(&d, &["good@partner.test"]).await,
            "D",
            "pipelining {pipelining}"
        );
        assert_eq!(hop.connections.load(Ordering::SeqCst), 2);
        assert_eq!(hop.contents(), 2);
    }
}
