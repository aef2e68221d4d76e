//! The Modbus/TCP reference server (`specs/modbus.proto`): one unit with
//! four tables in memory — coils, discrete inputs, holding registers and
//! input registers, 65,536 elements each unless told otherwise — and
//! function codes 1–6, 15 and 16 on them ([`Tables::execute`]); the
//! connection handler on the generated API is in [`server`].
//!
//! Requests are checked in the order the Modbus Application Protocol
//! (v1.1b3, §6) sets:
//!
//! 1. a function code other than 1–6, 15 and 16: exception 1 (illegal
//!    function), with the request's function code + 0x80;
//! 2. a quantity out of the standard's range (reading 1..=2000 bits or
//!    1..=125 registers, writing 1..=1968 coils or 1..=123 registers), a
//!    byte count that does not match it, a coil written with a value other
//!    than `ff 00` or `00 00`, or a PDU of the wrong length: exception 3
//!    (illegal data value);
//! 3. an address, or an address plus quantity, past the end of the table:
//!    exception 2 (illegal data address).
//!
//! The spec decodes only requests within those ranges; the rest arrive as
//! its fallback request `OtherRequest` (any function code and PDU after a
//! well-formed MBAP header), which is answered with exception 1 or 3 as
//! above. A frame that is not even that (protocol id other than 0, an MBAP
//! length under 2 or over the spec's 254) is a protocol error: the
//! connection is closed.
//!
//! Where this server follows pymodbus 3.16 (the modbus suite's peer) rather
//! than the letter of the standard:
//!
//! - a request for a unit id other than `--unit` (0 included) is answered
//!   with exception 0x0B (gateway target device failed to respond) under the
//!   request's function code + 0x80, as pymodbus answers it
//!   (`conformance/suites/modbus/README.md`). The standard leaves a unit id
//!   to a gateway on TCP; a server without one may ignore it, but a reply
//!   says more than silence.
//!
//! Where it differs from pymodbus, on purpose (the suite accepts both):
//!
//! - an unknown function code gets exception 1 under that function code +
//!   0x80, as the standard has it (pymodbus answers `80 01` whatever the
//!   code);
//! - a quantity out of range gets exception 3 (pymodbus answers `80 01`);
//! - a coil written with a value other than `ff 00` or `00 00` gets
//!   exception 3 (pymodbus switches it on);
//! - several requests in one read are all answered, in order, their
//!   replies written together (pymodbus answers the first and drops the
//!   rest of the read).
//!
//! `--seed` fills the tables with the modbus suite's demo data, as its peer
//! does: 1,000 elements per table (addresses 0..=999; 1,000 and up are
//! exception 2), coil *i* on iff *i* % 3 == 0, discrete input *i* on iff *i*
//! is odd, holding register *i* = *i* × 10, input register *i* = 1000 + *i*.

pub mod server;

use std::sync::{Mutex, MutexGuard};

use protocol_runtime::server::ServerConfig;

use crate::specs::modbus::{self as mb, ClientMessage, Exception, OtherRequest, ServerMessage};

pub use server::{handle, serve};

/// The most elements a table may hold: the whole 16-bit address space.
pub const MAX_TABLE_SIZE: usize = 65_536;

/// The number of elements per table the suite's demo data has.
pub const SEEDED_TABLE_SIZE: usize = 1_000;

/// The unit id served unless told otherwise (the suite's).
pub const DEFAULT_UNIT: u8 = 1;

/// Exception codes (Modbus Application Protocol §7).
pub const ILLEGAL_FUNCTION: u8 = 0x01;
pub const ILLEGAL_DATA_ADDRESS: u8 = 0x02;
pub const ILLEGAL_DATA_VALUE: u8 = 0x03;
pub const GATEWAY_TARGET_FAILED: u8 = 0x0b;

/// The quantity limits of the standard.
pub const MAX_READ_BITS: u16 = 2000;
pub const MAX_READ_REGISTERS: u16 = 125;
pub const MAX_WRITE_COILS: u16 = 1968;
pub const MAX_WRITE_REGISTERS: u16 = 123;

/// How the modbus server runs.
#[derive(Clone)]
pub struct ModbusConfig {
    pub server: ServerConfig,
    /// The unit id served; others get exception 0x0B.
    pub unit: u8,
    /// Fill the tables with the suite's demo data.
    pub seed: bool,
    /// Elements per table (1..=65,536); `None`: 65,536, or 1,000 seeded.
    pub size: Option<usize>,
}

impl Default for ModbusConfig {
    fn default() -> Self {
        ModbusConfig {
            server: ServerConfig::default(),
            unit: DEFAULT_UNIT,
            seed: false,
            size: None,
        }
    }
}

impl ModbusConfig {
    /// The configuration of the suite's peer: unit 1, seeded.
    pub fn seeded() -> Self {
        ModbusConfig {
            seed: true,
            ..ModbusConfig::default()
        }
    }

    /// Elements per table.
    pub fn table_size(&self) -> usize {
        let size = self.size.unwrap_or(if self.seed {
            SEEDED_TABLE_SIZE
        } else {
            MAX_TABLE_SIZE
        });
        size.clamp(1, MAX_TABLE_SIZE)
    }
}

/// The four tables of the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub coils: Vec<bool>,
    pub discrete_inputs: Vec<bool>,
    pub holding: Vec<u16>,
    pub input: Vec<u16>,
}

impl Tables {
    /// `size` elements each (at most 65,536), all off or 0.
    pub fn new(size: usize) -> Self {
        let size = size.clamp(1, MAX_TABLE_SIZE);
        Tables {
            coils: vec![false; size],
            discrete_inputs: vec![false; size],
            holding: vec![0; size],
            input: vec![0; size],
        }
    }

    /// The suite's demo data on `size` elements each (register values past
    /// 65,535 wrap).
    pub fn seeded(size: usize) -> Self {
        let mut t = Tables::new(size);
        for i in 0..t.coils.len() {
            t.coils[i] = i % 3 == 0;
            t.discrete_inputs[i] = i % 2 == 1;
            t.holding[i] = (i * 10) as u16;
            t.input[i] = (1000 + i) as u16;
        }
        t
    }

    /// The tables `config` asks for.
    pub fn for_config(config: &ModbusConfig) -> Self {
        if config.seed {
            Tables::seeded(config.table_size())
        } else {
            Tables::new(config.table_size())
        }
    }

    /// Carries out one request addressed to the unit (the unit id is
    /// checked by [`Unit::execute`]) and returns its reply.
    pub fn execute(&mut self, msg: ClientMessage) -> ServerMessage {
        match msg {
            ClientMessage::ReadCoils(m) => read_bits(&self.coils, m.tid, m.unit, 1, m.start, m.qty),
            ClientMessage::ReadDiscreteInputs(m) => {
                read_bits(&self.discrete_inputs, m.tid, m.unit, 2, m.start, m.qty)
            }
            ClientMessage::ReadHoldingRegisters(m) => {
                read_registers(&self.holding, m.tid, m.unit, 3, m.start, m.qty)
            }
            ClientMessage::ReadInputRegisters(m) => {
                read_registers(&self.input, m.tid, m.unit, 4, m.start, m.qty)
            }
            ClientMessage::WriteSingleCoil(m) => {
                let Some(coil) = self.coils.get_mut(usize::from(m.addr)) else {
                    return exception(m.tid, m.unit, 5, ILLEGAL_DATA_ADDRESS);
                };
                *coil = m.value == 0xff00;
                mb::WroteOne {
                    tid: m.tid,
                    unit: m.unit,
                    fc: 5,
                    addr: m.addr,
                    value: m.value,
                }
                .into()
            }
            ClientMessage::WriteSingleRegister(m) => {
                let Some(reg) = self.holding.get_mut(usize::from(m.addr)) else {
                    return exception(m.tid, m.unit, 6, ILLEGAL_DATA_ADDRESS);
                };
                *reg = m.value;
                mb::WroteOne {
                    tid: m.tid,
                    unit: m.unit,
                    fc: 6,
                    addr: m.addr,
                    value: m.value,
                }
                .into()
            }
            ClientMessage::WriteMultipleCoils(m) => {
                let qty = usize::from(m.qty);
                // The spec checks the quantity and the byte count; this is
                // for a caller that builds the message by hand.
                if !(1..=MAX_WRITE_COILS).contains(&m.qty) || m.coils.len() != qty.div_ceil(8) {
                    return exception(m.tid, m.unit, 15, ILLEGAL_DATA_VALUE);
                }
                let Some(range) = span(self.coils.len(), m.start, m.qty) else {
                    return exception(m.tid, m.unit, 15, ILLEGAL_DATA_ADDRESS);
                };
                for (i, coil) in self.coils[range].iter_mut().enumerate() {
                    *coil = m.coils[i / 8] & (1 << (i % 8)) != 0;
                }
                mb::WroteMany {
                    tid: m.tid,
                    unit: m.unit,
                    fc: 15,
                    start: m.start,
                    qty: m.qty,
                }
                .into()
            }
            ClientMessage::WriteMultipleRegisters(m) => {
                let Ok(qty) = u16::try_from(m.regs.len()) else {
                    return exception(m.tid, m.unit, 16, ILLEGAL_DATA_VALUE);
                };
                if !(1..=MAX_WRITE_REGISTERS).contains(&qty) {
                    return exception(m.tid, m.unit, 16, ILLEGAL_DATA_VALUE);
                }
                let Some(range) = span(self.holding.len(), m.start, qty) else {
                    return exception(m.tid, m.unit, 16, ILLEGAL_DATA_ADDRESS);
                };
                self.holding[range].copy_from_slice(&m.regs);
                mb::WroteMany {
                    tid: m.tid,
                    unit: m.unit,
                    fc: 16,
                    start: m.start,
                    qty,
                }
                .into()
            }
            ClientMessage::OtherRequest(m) => refuse(&m),
        }
    }
}

/// The answer to a request the spec's requests do not match.
pub fn refuse(m: &OtherRequest) -> ServerMessage {
    let code = if is_served(m.fc) {
        // A served function whose quantity, value, byte count or length
        // is out of range.
        ILLEGAL_DATA_VALUE
    } else {
        ILLEGAL_FUNCTION
    };
    exception(m.tid, m.unit, m.fc, code)
}

/// Whether this server carries out function code `fc`.
pub fn is_served(fc: u8) -> bool {
    matches!(fc, 1..=6 | 15 | 16)
}

/// The exception reply to a request of function `fc`.
pub fn exception(tid: u16, unit: u8, fc: u8, code: u8) -> ServerMessage {
    Exception {
        tid,
        unit,
        fc: fc | 0x80,
        code,
    }
    .into()
}

/// The transaction id, unit id and function code of a request.
pub fn header(msg: &ClientMessage) -> (u16, u8, u8) {
    match msg {
        ClientMessage::ReadCoils(m) => (m.tid, m.unit, 1),
        ClientMessage::ReadDiscreteInputs(m) => (m.tid, m.unit, 2),
        ClientMessage::ReadHoldingRegisters(m) => (m.tid, m.unit, 3),
        ClientMessage::ReadInputRegisters(m) => (m.tid, m.unit, 4),
        ClientMessage::WriteSingleCoil(m) => (m.tid, m.unit, 5),
        ClientMessage::WriteSingleRegister(m) => (m.tid, m.unit, 6),
        ClientMessage::WriteMultipleCoils(m) => (m.tid, m.unit, 15),
        ClientMessage::WriteMultipleRegisters(m) => (m.tid, m.unit, 16),
        ClientMessage::OtherRequest(m) => (m.tid, m.unit, m.fc),
    }
}

/// The elements `start..start + qty` of a table of `len`, if all are in it.
fn span(len: usize, start: u16, qty: u16) -> Option<std::ops::Range<usize>> {
    let start = usize::from(start);
    let end = start + usize::from(qty);
    (end <= len).then_some(start..end)
}

fn read_bits(table: &[bool], tid: u16, unit: u8, fc: u8, start: u16, qty: u16) -> ServerMessage {
    if !(1..=MAX_READ_BITS).contains(&qty) {
        return exception(tid, unit, fc, ILLEGAL_DATA_VALUE);
    }
    let Some(range) = span(table.len(), start, qty) else {
        return exception(tid, unit, fc, ILLEGAL_DATA_ADDRESS);
    };
    let mut bits = vec![0u8; usize::from(qty).div_ceil(8)];
    for (i, on) in table[range].iter().enumerate() {
        if *on {
            bits[i / 8] |= 1 << (i % 8);
        }
    }
    mb::Bits {
        tid,
        unit,
        fc,
        bits: bits.into(),
    }
    .into()
}

fn read_registers(table: &[u16], tid: u16, unit: u8, fc: u8, start: u16, qty: u16) -> ServerMessage {
    if !(1..=MAX_READ_REGISTERS).contains(&qty) {
        return exception(tid, unit, fc, ILLEGAL_DATA_VALUE);
    }
    let Some(range) = span(table.len(), start, qty) else {
        return exception(tid, unit, fc, ILLEGAL_DATA_ADDRESS);
    };
    mb::Registers {
        tid,
        unit,
        fc,
        regs: table[range].to_vec(),
    }
    .into()
}

/// The unit: its id and its tables, shared by every connection.
pub struct Unit {
    pub id: u8,
    tables: Mutex<Tables>,
}

impl Unit {
    pub fn new(id: u8, tables: Tables) -> Self {
        Unit {
            id,
            tables: Mutex::new(tables),
        }
    }

    /// The tables, locked (never across an await).
    pub fn tables(&self) -> MutexGuard<'_, Tables> {
        // A panic elsewhere leaves at most one request's write half done.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reply to `msg`: exception 0x0B for another unit id, else the
    /// request carried out.
    pub fn execute(&self, msg: ClientMessage) -> ServerMessage {
        let (tid, unit, fc) = header(&msg);
        if unit != self.id {
            return exception(tid, unit, fc, GATEWAY_TARGET_FAILED);
        }
        self.tables().execute(msg)
    }
}

#[cfg(test)]
mod tests;
