"""RegisteredProduct on an ECP5: the MULT18X18D instances compute the same products,
under stalls, as the fabric version (``test_pipeline.py``) and as Python.

Verilator has no model of the ECP5's DSP block, so :func:`mult18x18d_model` writes
one from the data sheet's description of the subset ``RegisteredProduct`` uses:
``P = A * B`` over 18-bit operands, each two's complement when its ``SIGNEDA`` /
``SIGNEDB`` is high; with ``REG_INPUTA_CLK`` / ``REG_INPUTB_CLK`` / ``REG_OUTPUT_CLK``
= ``"CLK0"`` the operand / product register loads on ``CLK0`` while ``CE0`` is high.
"""

import random

import pytest
from amaranth import Module, Shape, signed, unsigned
from amaranth.back import verilog
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from amaradar.hdl.stream.pipeline import delay, multiply
from amaradar.hdl.stream.registered_product import RegisteredProduct

from amaradar.sim.engines.streams import cocotb_stream


class _Ecp5:
    """Stands in for an amaranth-boards ECP5 platform: all ``RegisteredProduct`` reads."""
    family = "ecp5"


def mult18x18d_model():
    """Verilog of the MULT18X18D subset described above (other register settings fail)."""
    ports = ([f"{p}{n}" for p in "ABC" for n in range(18)]
             + ["SIGNEDA", "SIGNEDB", "SOURCEA", "SOURCEB"]
             + [f"{p}{n}" for p in ("CLK", "CE", "RST") for n in range(4)])
    outputs = [f"P{n}" for n in range(36)]
    regs = ("INPUTA", "INPUTB", "OUTPUT")
    params = "\n".join(f'  parameter REG_{r}_{w} = "{d}";' for r in regs
                       for w, d in (("CLK", "NONE"), ("CE", "CE0"), ("RST", "RST0")))
    bus = {p: "{" + ", ".join(f"{p}{n}" for n in reversed(range(18))) + "}" for p in "AB"}
    return f"""
module MULT18X18D({", ".join(ports + outputs)});
  input {", ".join(ports)};
  output {", ".join(outputs)};
{params}
  parameter GSR = "ENABLED";
  parameter RESETMODE = "SYNC";
  wire [17:0] a = {bus["A"]};
  wire [17:0] b = {bus["B"]};
  reg [17:0] a_reg = 0, b_reg = 0;
  reg [35:0] p_reg = 0;
  wire [17:0] a_in = REG_INPUTA_CLK == "CLK0" ? a_reg : a;
  wire [17:0] b_in = REG_INPUTB_CLK == "CLK0" ? b_reg : b;
  wire [35:0] product = $signed({{SIGNEDA & a_in[17], a_in}}) * $signed({{SIGNEDB & b_in[17], b_in}});
  initial begin
    if ({" || ".join(f'(REG_{r}_CLK != "NONE" && REG_{r}_CLK != "CLK0") || REG_{r}_CE != "CE0"'
                      for r in regs)})
      $fatal(1, "MULT18X18D model: only CLK0 and CE0 registers");
  end
  always @(posedge CLK0) if (CE0) begin
    a_reg <= a;
    b_reg <= b;
    p_reg <= product;
  end
  assign {{{", ".join(reversed(outputs))}}} = REG_OUTPUT_CLK == "CLK0" ? p_reg : product;
endmodule
"""


class _ProductStream(wiring.Component):
    """``multiply`` as a stream: pairs ``(a, b)`` in, ``a * b`` out (``a`` a port when static)."""

    def __init__(self, a_shape, b_shape, a_static):
        self.a_static = a_static
        self.width = a_shape.width + b_shape.width
        self.signed = a_shape.signed or b_shape.signed
        fields = {"b": b_shape} if a_static else {"a": a_shape, "b": b_shape}
        super().__init__({
            "i": In(stream.Signature(data.StructLayout(fields))),
            "o": Out(stream.Signature(Shape(self.width, self.signed))),
            "a": In(a_shape),
        })

    def elaborate(self, platform):
        m = Module()
        en = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(en)
        a = self.a if self.a_static else self.i.payload.a
        product, latency = multiply(m, en, a, self.i.payload.b, "x", a_static=self.a_static)
        m.d.comb += [self.o.valid.eq(delay(m, en, self.i.valid, latency, "valid",
                                           reset_less=False)),
                     self.o.payload.eq(product)]
        return m


def _values(shape, rng, count):
    lo = -(1 << (shape.width - 1)) if shape.signed else 0
    hi = (1 << (shape.width - shape.signed)) - 1
    return [rng.choice([lo, hi, 0, -1 if shape.signed else 1, rng.randint(lo, hi)])
            for _ in range(count)]


@pytest.mark.parametrize("a_shape,b_shape,a_static,dsps", [
    (signed(18), signed(18), False, 1),
    (unsigned(18), unsigned(18), False, 1),   # SIGNEDA = SIGNEDB = 0: bit 17 is magnitude
    (unsigned(16), signed(12), True, 1),      # the echo gain / noise scale: a constant port
    (signed(30), signed(19), False, 4),       # unsigned low pieces beside signed top pieces
])
def test_ecp5_dsp_products_under_stalls(a_shape, b_shape, a_static, dsps):
    dut = _ProductStream(a_shape, b_shape, a_static)
    assert verilog.convert(_ProductStream(a_shape, b_shape, a_static), platform=_Ecp5(),
                           emit_src=False).count("MULT18X18D ") == dsps
    rng = random.Random(a_shape.width * 64 + b_shape.width)
    bs = _values(b_shape, rng, 400)
    if a_static:
        a_const = _values(a_shape, rng, 1)[0] or 12345
        pairs = [(a_const, b) for b in bs]
        inputs = [b & ((1 << b_shape.width) - 1) for b in bs]
        ports = {"a": a_const}
    else:
        pairs = list(zip(_values(a_shape, rng, 400), bs))
        inputs = [(a & ((1 << a_shape.width) - 1)) | ((b & ((1 << b_shape.width) - 1)) << a_shape.width)
                  for a, b in pairs]
        ports = {}
    name = f"ecp5_product_{a_shape.width}{'s' if a_shape.signed else 'u'}_{b_shape.width}"
    words = cocotb_stream(dut, name, inputs, len(inputs), ports=ports, seed=5,
                          platform=_Ecp5(), cells=mult18x18d_model())
    mask = (1 << dut.width) - 1
    assert words == [(a * b) & mask for a, b in pairs]


@pytest.mark.filterwarnings("ignore:.*created but never used")
@pytest.mark.parametrize("a_shape,b_shape,message", [
    (signed(19), signed(4), "a_shape must have at most 18 bits"),
    (signed(4), unsigned(18), "b_shape must have at most 17 bits"),
])
def test_operands_wider_than_one_multiplier_are_refused(a_shape, b_shape, message):
    with pytest.raises(ValueError, match=message):
        RegisteredProduct(a_shape, b_shape)
