"""A Modbus/TCP server for the modbus suite: pymodbus (the version pinned in
setup-venv) on 127.0.0.1:$PORT, started by `peer` in this folder.

Unit (slave) id 1 holds four tables of 1000 elements each, addressed from 0
(protocol address N is element N; there is no off-by-one):

    coils               0..=999   coil i is on iff i % 3 == 0
    discrete inputs     0..=999   input i is on iff i % 2 == 1
    holding registers   0..=999   register i holds i * 10
    input registers     0..=999   register i holds 1000 + i

A request that reaches past element 999 gets exception 2 (illegal data
address); a function code pymodbus does not serve gets exception 1 (illegal
function); another unit id gets exception 0x0B (gateway target device failed
to respond). Writes (function codes 5, 6, 15, 16) change the tables for as
long as the process runs: restart it for the seeded state.
"""

import argparse
import asyncio
import logging

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

UNIT = 1
SIZE = 1000

# Function code -> table, as the Modbus application protocol groups them.
TABLE_OF = {
    **dict.fromkeys((1, 5, 15), "co"),
    2: "di",
    **dict.fromkeys((3, 6, 16, 22, 23), "hr"),
    4: "ir",
}


def seeded():
    """The four tables, as documented above."""
    return {
        "co": [i % 3 == 0 for i in range(SIZE)],
        "di": [i % 2 == 1 for i in range(SIZE)],
        "hr": [i * 10 for i in range(SIZE)],
        "ir": [1000 + i for i in range(SIZE)],
    }


class Tables(ModbusServerContext):
    """Unit 1's tables with exact bounds.

    pymodbus 3.16's own store (SimDevice) rounds a bit table up to a multiple
    of 16, so coils 1000..=1007 would read as off instead of failing with
    exception 2. Its server calls a ModbusServerContext that carries no
    SimDevice (`old_simulator`) directly, through the methods below: that is
    how this store is plugged in. It is tied to the pinned version.
    """

    def __init__(self):  # pylint: disable=super-init-not-called
        # ModbusServerContext's own __init__ wants pymodbus's store; none of
        # its state is used once these methods are overridden.
        self.simdevices = []
        self.old_simulator = True
        self.tables = seeded()

    def device_ids(self):
        return [UNIT]

    def _table(self, device_id, func_code):
        if device_id != UNIT:
            raise NoSuchIdException(f"unit {device_id} does not exist: this server is unit {UNIT}")
        return self.tables[TABLE_OF[func_code]]

    async def async_getValues(self, device_id, func_code, address, count=1):
        table = self._table(device_id, func_code)
        if address + count > len(table):
            return ExcCodes.ILLEGAL_ADDRESS
        return table[address : address + count]

    async def async_setValues(self, device_id, func_code, address, values):
        table = self._table(device_id, func_code)
        if address + len(values) > len(table):
            return ExcCodes.ILLEGAL_ADDRESS
        table[address : address + len(values)] = list(values)
        return None


async def serve(port):
    server = ModbusTcpServer(Tables(), address=("127.0.0.1", port))
    try:
        await server.serve_forever()
    except RuntimeError as e:
        # pymodbus raises a bare "Could not start listen" (the cause is in
        # the warning it logged just before).
        raise SystemExit(f"peer_server.py: cannot listen on 127.0.0.1:{port}: is the port in use? ({e})") from e


def main():
    parser = argparse.ArgumentParser(description="A Modbus/TCP server with the modbus suite's data.")
    parser.add_argument("--port", type=int, required=True, help="the port to listen on, at 127.0.0.1")
    port = parser.parse_args().port
    # pymodbus logs at WARNING and above: refused requests and unknown units.
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(serve(port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
