use super::*;
use crate::specs::modbus::{
    Bits, ReadCoils, ReadDiscreteInputs, ReadHoldingRegisters, ReadInputRegisters, Registers,
    WriteMultipleCoils, WriteMultipleRegisters, WriteSingleCoil, WriteSingleRegister, WroteMany, WroteOne,
};

fn seeded() -> Unit {
    Unit::new(1, Tables::seeded(SEEDED_TABLE_SIZE))
}

fn exc(tid: u16, unit: u8, fc: u8, code: u8) -> ServerMessage {
    Exception { tid, unit, fc, code }.into()
}

#[test]
fn reads_the_seeded_tables_as_the_suites_peer_does() {
    let u = seeded();
    let coils = u.execute(
        ReadCoils {
            tid: 1,
            unit: 1,
            start: 0,
            qty: 10,
        }
        .into(),
    );
    assert_eq!(
        coils,
        Bits {
            tid: 1,
            unit: 1,
            fc: 1,
            bits: b"\x49\x02"[..].into()
        }
        .into()
    );
    let inputs = u.execute(
        ReadDiscreteInputs {
            tid: 2,
            unit: 1,
            start: 0,
            qty: 10,
        }
        .into(),
    );
    assert_eq!(
        inputs,
        Bits {
            tid: 2,
            unit: 1,
            fc: 2,
            bits: b"\xaa\x02"[..].into()
        }
        .into()
    );
    let regs = u.execute(
        ReadHoldingRegisters {
            tid: 3,
            unit: 1,
            start: 997,
            qty: 3,
        }
        .into(),
    );
    assert_eq!(
        regs,
        Registers {
            tid: 3,
            unit: 1,
            fc: 3,
            regs: vec![9970, 9980, 9990]
        }
        .into()
    );
    let regs = u.execute(
        ReadInputRegisters {
            tid: 4,
            unit: 1,
            start: 0,
            qty: 3,
        }
        .into(),
    );
    assert_eq!(
        regs,
        Registers {
            tid: 4,
            unit: 1,
            fc: 4,
            regs: vec![1000, 1001, 1002]
        }
        .into()
    );
}

#[test]
fn writes_change_the_tables() {
    let u = seeded();
    let r = u.execute(
        WriteSingleCoil {
            tid: 5,
            unit: 1,
            addr: 1,
            value: 0xff00,
        }
        .into(),
    );
    assert_eq!(
        r,
        WroteOne {
            tid: 5,
            unit: 1,
            fc: 5,
            addr: 1,
            value: 0xff00
        }
        .into()
    );
    let r = u.execute(
        WriteSingleRegister {
            tid: 6,
            unit: 1,
            addr: 2,
            value: 0x1234,
        }
        .into(),
    );
    assert_eq!(
        r,
        WroteOne {
            tid: 6,
            unit: 1,
            fc: 6,
            addr: 2,
            value: 0x1234
        }
        .into()
    );
    let coils = WriteMultipleCoils {
        tid: 7,
        unit: 1,
        start: 16,
        qty: 10,
        coils: b"\xff\x03"[..].into(),
    };
    assert_eq!(
        u.execute(coils.into()),
        WroteMany {
            tid: 7,
            unit: 1,
            fc: 15,
            start: 16,
            qty: 10
        }
        .into()
    );
    let regs = WriteMultipleRegisters {
        tid: 8,
        unit: 1,
        start: 32,
        regs: vec![0xabcd, 1],
    };
    assert_eq!(
        u.execute(regs.into()),
        WroteMany {
            tid: 8,
            unit: 1,
            fc: 16,
            start: 32,
            qty: 2
        }
        .into()
    );
    let t = u.tables();
    assert_eq!(&t.coils[0..3], &[true, true, false]);
    assert!(t.coils[16..26].iter().all(|c| *c));
    assert!(!t.coils[26]);
    assert_eq!(&t.holding[0..3], &[0, 10, 0x1234]);
    assert_eq!(&t.holding[32..34], &[0xabcd, 1]);
}

#[test]
fn past_the_end_is_exception_2() {
    let u = seeded();
    let r = u.execute(
        ReadHoldingRegisters {
            tid: 1,
            unit: 1,
            start: 999,
            qty: 2,
        }
        .into(),
    );
    assert_eq!(r, exc(1, 1, 0x83, 2));
    let r = u.execute(
        WriteSingleCoil {
            tid: 2,
            unit: 1,
            addr: 1000,
            value: 0,
        }
        .into(),
    );
    assert_eq!(r, exc(2, 1, 0x85, 2));
    // The whole address space: the last element, and one past it.
    let full = Unit::new(1, Tables::new(MAX_TABLE_SIZE));
    let r = full.execute(
        ReadCoils {
            tid: 3,
            unit: 1,
            start: 65535,
            qty: 1,
        }
        .into(),
    );
    assert_eq!(
        r,
        Bits {
            tid: 3,
            unit: 1,
            fc: 1,
            bits: b"\x00"[..].into()
        }
        .into()
    );
    let r = full.execute(
        ReadCoils {
            tid: 4,
            unit: 1,
            start: 65535,
            qty: 2,
        }
        .into(),
    );
    assert_eq!(r, exc(4, 1, 0x81, 2));
    let r = full.execute(
        WriteMultipleRegisters {
            tid: 5,
            unit: 1,
            start: 65500,
            regs: vec![0; 100],
        }
        .into(),
    );
    assert_eq!(r, exc(5, 1, 0x90, 2));
}

#[test]
fn other_requests_are_exception_1_or_3() {
    let u = seeded();
    let other = |fc: u8, data: &'static [u8]| -> ClientMessage {
        OtherRequest {
            tid: 9,
            unit: 1,
            fc,
            data: data.into(),
        }
        .into()
    };
    assert_eq!(u.execute(other(9, b"")), exc(9, 1, 0x89, 1));
    assert_eq!(u.execute(other(0, b"")), exc(9, 1, 0x80, 1));
    assert_eq!(u.execute(other(0x41, b"\x01")), exc(9, 1, 0xc1, 1));
    // Read 0 and 2001 coils, 126 registers; a coil written 0x1234.
    assert_eq!(u.execute(other(1, b"\x00\x00\x00\x00")), exc(9, 1, 0x81, 3));
    assert_eq!(u.execute(other(1, b"\x00\x00\x07\xd1")), exc(9, 1, 0x81, 3));
    assert_eq!(u.execute(other(3, b"\x00\x00\x00\x7e")), exc(9, 1, 0x83, 3));
    assert_eq!(u.execute(other(5, b"\x00\x03\x12\x34")), exc(9, 1, 0x85, 3));
}

#[test]
fn another_unit_is_exception_0x0b() {
    let u = seeded();
    let r = u.execute(
        ReadHoldingRegisters {
            tid: 1,
            unit: 2,
            start: 0,
            qty: 1,
        }
        .into(),
    );
    assert_eq!(r, exc(1, 2, 0x83, 0x0b));
    let r = u.execute(
        ReadInputRegisters {
            tid: 2,
            unit: 0,
            start: 0,
            qty: 1,
        }
        .into(),
    );
    assert_eq!(r, exc(2, 0, 0x84, 0x0b));
}

#[test]
fn table_sizes() {
    assert_eq!(ModbusConfig::default().table_size(), MAX_TABLE_SIZE);
    assert_eq!(ModbusConfig::seeded().table_size(), SEEDED_TABLE_SIZE);
    let sized = ModbusConfig {
        size: Some(10),
        ..ModbusConfig::seeded()
    };
    assert_eq!(
        Tables::for_config(&sized).holding,
        (0..10).map(|i| i * 10).collect::<Vec<u16>>()
    );
}
