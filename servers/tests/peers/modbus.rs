//! The Modbus/TCP client generated from `specs/modbus.proto` against
//! pymodbus (the modbus suite's peer, seeded as its README says).

use std::time::Duration;

use bytes::Bytes;
use libtest_mimic::Trial;
use servers::specs::modbus::{
    client, ReadCoils, ReadHoldingRegisters, WriteMultipleCoils, WriteMultipleRegisters, WriteSingleRegister,
};

use crate::harness::{self, ensure_eq, Outcome, Peer, Program};

const NEEDS: &[Program] = &[Program::Pymodbus];
const LIMIT: Duration = Duration::from_secs(30);

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial("modbus::generated_client_reads_the_seeded_tables", NEEDS, reads),
        harness::trial("modbus::generated_client_writes_and_reads_back", NEEDS, writes),
        harness::trial("modbus::generated_client_gets_exceptions", NEEDS, exceptions),
    ]
}

fn reads() -> Outcome {
    let peer = Peer::start("modbus")?;
    harness::block_on(LIMIT, async {
        let open = client::connect(&peer.addr()).await?;
        let reply = open
            .read_holding_registers(ReadHoldingRegisters {
                tid: 1,
                unit: 1,
                start: 0,
                qty: 3,
            })
            .await?;
        let open = match reply.recv().await? {
            client::ReadHoldingRegistersReplyEvent::Registers(r, open) => {
                ensure_eq!((r.tid, r.fc, r.regs), (1, 3, vec![0, 10, 20]));
                open
            }
            other => return Err(format!("read holding registers: {other:?}").into()),
        };
        let reply = open
            .read_coils(ReadCoils {
                tid: 2,
                unit: 1,
                start: 0,
                qty: 10,
            })
            .await?;
        match reply.recv().await? {
            client::ReadCoilsReplyEvent::Bits(b, _) => ensure_eq!(&b.bits[..], b"\x49\x02"),
            other => return Err(format!("read coils: {other:?}").into()),
        }
        Ok(())
    })
}

fn writes() -> Outcome {
    let peer = Peer::start("modbus")?;
    harness::block_on(LIMIT, async {
        let open = client::connect(&peer.addr()).await?;
        let reply = open
            .write_multiple_registers(WriteMultipleRegisters {
                tid: 7,
                unit: 1,
                start: 600,
                regs: vec![1, 2, 65535],
            })
            .await?;
        let open = match reply.recv().await? {
            client::WriteMultipleRegistersReplyEvent::WroteMany(w, open) => {
                // The register count was computed from the registers given.
                ensure_eq!((w.fc, w.start, w.qty), (16, 600, 3));
                open
            }
            other => return Err(format!("write registers: {other:?}").into()),
        };
        let reply = open
            .write_multiple_coils(WriteMultipleCoils {
                tid: 8,
                unit: 1,
                start: 600,
                qty: 12,
                coils: Bytes::from_static(b"\xff\x0a"),
            })
            .await?;
        let open = match reply.recv().await? {
            client::WriteMultipleCoilsReplyEvent::WroteMany(w, open) => {
                ensure_eq!((w.fc, w.start, w.qty), (15, 600, 12));
                open
            }
            other => return Err(format!("write coils: {other:?}").into()),
        };
        let reply = open
            .read_holding_registers(ReadHoldingRegisters {
                tid: 9,
                unit: 1,
                start: 600,
                qty: 3,
            })
            .await?;
        let open = match reply.recv().await? {
            client::ReadHoldingRegistersReplyEvent::Registers(r, open) => {
                ensure_eq!(r.regs, vec![1, 2, 65535]);
                open
            }
            other => return Err(format!("read back: {other:?}").into()),
        };
        let reply = open
            .read_coils(ReadCoils {
                tid: 10,
                unit: 1,
                start: 600,
                qty: 12,
            })
            .await?;
        match reply.recv().await? {
            client::ReadCoilsReplyEvent::Bits(b, _) => ensure_eq!(&b.bits[..], b"\xff\x0a"),
            other => return Err(format!("read coils back: {other:?}").into()),
        }
        Ok(())
    })
}

fn exceptions() -> Outcome {
    let peer = Peer::start("modbus")?;
    harness::block_on(LIMIT, async {
        let open = client::connect(&peer.addr()).await?;
        let reply = open
            .write_single_register(WriteSingleRegister {
                tid: 3,
                unit: 1,
                addr: 1000,
                value: 5,
            })
            .await?;
        match reply.recv().await? {
            client::WriteSingleRegisterReplyEvent::Exception(e, _) => {
                ensure_eq!((e.tid, e.fc, e.code), (3, 0x86, 2))
            }
            other => return Err(format!("write past the end: {other:?}").into()),
        }
        // The generated client refuses what the spec does not allow.
        let open = client::connect(&peer.addr()).await?;
        let refused = open
            .read_holding_registers(ReadHoldingRegisters {
                tid: 4,
                unit: 1,
                start: 0,
                qty: 126,
            })
            .await;
        ensure_eq!(
            refused.err().map(|e| e.to_string().contains("not in 1..=125")),
            Some(true)
        );
        Ok(())
    })
}
