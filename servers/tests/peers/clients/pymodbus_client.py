"""pymodbus's client against a modbus server seeded with the modbus suite's
demo data (conformance/suites/modbus/README.md), unit 1: one line per step,
compared by servers/tests/peers/modbus_server.rs with what the Modbus
standard says. Usage: python pymodbus_client.py PORT
"""

import struct
import sys

from pymodbus.client import ModbusTcpClient
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsRequest
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest


def show(what, rr):
    if rr.isError():
        print(f"{what}: exception fc={rr.function_code:#04x} code={rr.exception_code}")
    elif hasattr(rr, "registers") and rr.registers:
        print(f"{what}: {rr.registers}")
    elif hasattr(rr, "bits") and rr.bits:
        print(f"{what}: {''.join('1' if b else '0' for b in rr.bits)}")
    else:
        print(f"{what}: ok")


class Unassigned(ModbusPDU):
    """A request with function code 9, which the standard leaves unassigned."""

    function_code = 9
    rtu_frame_size = 4

    def encode(self):
        return b""

    def decode(self, data):
        pass


class UncheckedReadCoils(ReadCoilsRequest):
    """pymodbus's read coils, without its check of the count when sending."""

    def encode(self):
        return struct.pack(">HH", self.address, self.count)


class UncheckedReadRegisters(ReadHoldingRegistersRequest):
    """pymodbus's read holding registers, without its check of the count."""

    def encode(self):
        return struct.pack(">HH", self.address, self.count)


def main():
    client = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]), timeout=3, retries=0)
    if not client.connect():
        print("cannot connect")
        return 1
    show("read coils 0..=9", client.read_coils(0, count=10, device_id=1))
    show("read discrete inputs 0..=7", client.read_discrete_inputs(0, count=8, device_id=1))
    show("read holding registers 0..=2", client.read_holding_registers(0, count=3, device_id=1))
    show("read input registers 5..=7", client.read_input_registers(5, count=3, device_id=1))
    show("write coil 700 on", client.write_coil(700, True, device_id=1))
    show("read coil 700", client.read_coils(700, count=1, device_id=1))
    show("write coils 710..=719", client.write_coils(710, [True, False] * 5, device_id=1))
    show("read coils 710..=719", client.read_coils(710, count=10, device_id=1))
    show("write register 700", client.write_register(700, 4242, device_id=1))
    show("write registers 701..=703", client.write_registers(701, [1, 65535, 3], device_id=1))
    show("read registers 700..=703", client.read_holding_registers(700, count=4, device_id=1))
    # pymodbus's client refuses to send these; sent anyway, the server must
    # refuse them (exception 3).
    show("read 126 registers", client.execute(False, UncheckedReadRegisters(address=0, count=126, dev_id=1)))
    show("read 0 registers", client.execute(False, UncheckedReadRegisters(address=0, count=0, dev_id=1)))
    show("read 2001 coils", client.execute(False, UncheckedReadCoils(address=0, count=2001, dev_id=1)))
    show("write 0 registers", client.write_registers(0, [], device_id=1))
    # 1969 coils take 247 bytes: the frame is within the standard's 260
    # bytes, the quantity is not. (124 registers would make a frame over 260
    # bytes, which no Modbus server need read.)
    show("write 1969 coils", client.write_coils(0, [False] * 1969, device_id=1))
    show("read register 1000", client.read_holding_registers(1000, count=1, device_id=1))
    show("read exception status (fc 7)", client.read_exception_status(device_id=1))
    show("report server id (fc 17)", client.report_device_id(device_id=1))
    client.register(Unassigned)
    show("function code 9", client.execute(False, Unassigned(dev_id=1)))
    show("read register 0 of unit 2", client.read_holding_registers(0, count=1, device_id=2))
    show("read holding registers 0..=2 again", client.read_holding_registers(0, count=3, device_id=1))
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
