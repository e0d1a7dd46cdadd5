"""Pipeline registers for blocks whose stages all advance on one enable.

A block built this way has a global enable ``en`` (typically ``~o.valid | o.ready``)
and registers every stage on it, so a stall freezes the whole pipeline and nothing
is lost. :func:`delay` carries side-band values (valid bits, framing flags, tags)
beside the data; :func:`multiply` is an exact product of any width, cut into
partial products that each take one hardware multiplier between registers
(:class:`~amaradar.hdl.stream.registered_product.RegisteredProduct`) and added up in
a registered tree.
"""

from amaranth import Cat, Signal, Value

from .registered_product import DSP_WIDTH, RegisteredProduct

__all__ = ["delay", "product_latency", "multiply"]


def delay(m, en, value, stages, name, shape=None, *, reset_less=True):
    """``value`` through ``stages`` registers that advance on ``en``; returns the last.

    The registers have ``shape`` (default: that of ``value``, which may be any
    value-like); ``stages = 0`` returns ``value``. They are reset-less unless
    ``reset_less=False`` (valid bits): data needs no reset, and a register
    without one can move into a DSP block.
    """
    for n in range(stages):
        kwargs = dict(name=f"{name}_{n + 1}", reset_less=reset_less)
        reg = Signal.like(value, **kwargs) if shape is None else Signal(shape, **kwargs)
        with m.If(en):
            m.d.sync += reg.eq(value)
        value = reg
    return value


def _pieces(shape, signed_product):
    """Bit ranges ``(start, stop)`` that cut an operand of ``shape`` into
    multiplier operands, lowest first.

    Lower pieces are unsigned; the top piece keeps the sign of the operand. In a
    signed product an unsigned piece is zero-extended by one bit, so it may have
    only ``DSP_WIDTH - 1`` bits.
    """
    step = DSP_WIDTH - signed_product
    top = DSP_WIDTH if shape.signed else step
    starts = [0]
    while shape.width - starts[-1] > top:
        starts.append(starts[-1] + step)
    return list(zip(starts, starts[1:] + [shape.width]))


def product_latency(a_shape, b_shape):
    """Stages of :func:`multiply` for operands of these shapes."""
    signed_product = a_shape.signed or b_shape.signed
    count = len(_pieces(a_shape, signed_product)) * len(_pieces(b_shape, signed_product))
    return 2 + (count - 1).bit_length()


def multiply(m, en, a, b, name, *, a_static=False):
    """``a * b``, exact, pipelined on ``en``; returns ``(product, latency)``.

    The operands are cut into pieces of at most :data:`DSP_WIDTH` bits; each pair
    of pieces is a :class:`~amaradar.hdl.stream.registered_product.RegisteredProduct`,
    which registers the pieces (stage 1; ``a``'s not when ``a_static``: a
    configuration input that changes only between runs) and their product (stage
    2). Operands that fit one piece cost one multiplier and ``latency = 2``; a
    registered adder tree then sums the partial products pairwise
    (``ceil(log2(products))`` more stages), modulo ``2**(len(a) + len(b))``, which
    holds every product. ``product`` has that width and the product's signedness.
    """
    a, b = Value.cast(a), Value.cast(b)
    signed_product = a.shape().signed or b.shape().signed
    width = len(a) + len(b)
    terms = []
    for sa, ea in _pieces(a.shape(), signed_product):
        for sb, eb in _pieces(b.shape(), signed_product):
            pa, pb = (x[start:end].as_signed() if x.shape().signed and end == len(x)
                      else x[start:end] for x, start, end in ((a, sa, ea), (b, sb, eb)))
            part = RegisteredProduct(pa.shape(), pb.shape(), a_static=a_static)
            m.submodules[f"{name}_p{len(terms)}"] = part
            m.d.comb += [part.a.eq(pa), part.b.eq(pb), part.en.eq(en)]
            terms.append((part.product, sa + sb))
    terms.sort(key=lambda term: term[1])
    latency = 2
    while len(terms) > 1:
        pairs = [terms[j:j + 2] for j in range(0, len(terms), 2)]
        terms = []
        for (low, shift), *high in pairs:
            if high:
                (high, high_shift), = high
                skip = high_shift - shift
                upper = (low >> skip) + high
                low = Cat(low[:skip], upper).as_signed() if upper.shape().signed else \
                    Cat(low[:skip], upper)
            terms.append((delay(m, en, low, 1, f"{name}_s{latency}_{len(terms)}",
                                width - shift), shift))
        latency += 1
    product = terms[0][0]
    return (product.as_signed() if signed_product else product), latency
