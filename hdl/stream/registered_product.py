"""One hardware multiplier between registers: its operands' and its product's."""

from amaranth import ClockSignal, Elaboratable, Instance, Module, Shape, Signal

__all__ = ["DSP_WIDTH", "RegisteredProduct"]

DSP_WIDTH = 18      # operand bits of one hardware multiplier (two's complement or unsigned)


class RegisteredProduct(Elaboratable):
    """``product = a * b``, two stages after ``a`` and ``b``, advancing on ``en``.

    Stage 1 registers the operands, stage 2 their product; both hold while ``en``
    is low. With ``a_static`` the ``a`` operand is a configuration input that
    changes only between runs (a constant on a board) and is used unregistered,
    so that Yosys can fold a constant into the product.

    On an ECP5 (``platform.family == "ecp5"``) the block is one MULT18X18D with
    its input and output registers clocked by ``sync`` and enabled by ``en``
    (``a_static`` or not): the multiplier's delay then lies between registers
    inside the DSP block, and a path into or out of it is routing only, wherever
    the placer puts the block. Elsewhere it is fabric registers around ``*``,
    which Yosys maps to a hardware multiplier where it can (on the iCE40 with
    ``synth_ice40 -dsp``, registers included).

    Parameters
    ----------
    a_shape, b_shape : Shape
        Operand shapes, at most :data:`DSP_WIDTH` bits (``DSP_WIDTH - 1`` for an
        unsigned operand when the other is signed).
    a_static : bool
        ``a`` changes only between runs (see above).

    Members
    -------
    a, b : Signal
        The operands.
    en : Signal
        Advances both stages.
    product : Signal
        ``a * b``, exact: ``len(a) + len(b)`` bits, signed when either operand is.
    """

    def __init__(self, a_shape, b_shape, *, a_static=False):
        a_shape, b_shape = Shape.cast(a_shape), Shape.cast(b_shape)
        signed_product = a_shape.signed or b_shape.signed
        for name, shape in (("a_shape", a_shape), ("b_shape", b_shape)):
            limit = DSP_WIDTH - (signed_product and not shape.signed)
            if shape.width > limit:
                raise ValueError(f"{name} must have at most {limit} bits for one hardware "
                                 f"multiplier, not {shape}")
        self.a = Signal(a_shape)
        self.b = Signal(b_shape)
        self.en = Signal()
        # data registers without reset, which the DSP blocks' registers lack
        self.product = Signal(Shape(a_shape.width + b_shape.width, signed_product),
                              reset_less=True)
        self._a_static = a_static

    def elaborate(self, platform):
        m = Module()
        if getattr(platform, "family", None) == "ecp5":
            self._mult18x18d(m)
            return m
        a = self.a if self._a_static else Signal.like(self.a, name="a_reg", reset_less=True)
        b = Signal.like(self.b, name="b_reg", reset_less=True)
        with m.If(self.en):
            m.d.sync += b.eq(self.b)
            if a is not self.a:
                m.d.sync += a.eq(self.a)
            m.d.sync += self.product.eq(a * b)
        return m

    def _mult18x18d(self, m):
        ports = {}
        for name, value in (("A", self.a), ("B", self.b)):
            wide = Signal(DSP_WIDTH, name=f"{name.lower()}_wide")    # sign- or zero-extended
            m.d.comb += wide.eq(value)
            ports.update({f"i_{name}{n}": wide[n] for n in range(DSP_WIDTH)})
            ports[f"i_SIGNED{name}"] = int(value.shape().signed)
        ports.update({f"i_C{n}": 0 for n in range(DSP_WIDTH)})
        p = Signal(2 * DSP_WIDTH)
        ports.update({f"o_P{n}": p[n] for n in range(2 * DSP_WIDTH)})
        registers = {f"p_REG_{reg}_{what}": value
                     for reg in ("INPUTA", "INPUTB", "OUTPUT")
                     for what, value in (("CLK", "CLK0"), ("CE", "CE0"), ("RST", "RST0"))}
        m.submodules.dsp = Instance(
            "MULT18X18D", **registers, p_GSR="DISABLED", p_RESETMODE="SYNC",
            i_SOURCEA=0, i_SOURCEB=0, i_CLK0=ClockSignal("sync"), i_CE0=self.en, i_RST0=0,
            **ports)
        m.d.comb += self.product.eq(p[:len(self.product)])
