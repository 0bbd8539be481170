"""The fused Fire-expand layer: FINN+ custom op (:mod:`.op`), its HLS backend (:mod:`.hls`), and
:func:`register`, which makes qonnx/FINN+ know both (called by ``finn_env.activate``)."""
from __future__ import annotations

__all__ = ["register", "OP_TYPE"]

OP_TYPE = "FireExpand"
_DOMAIN = "finn.custom_op.fpgadataflow"


def register() -> None:
    """Register ``FireExpand`` (domain ``finn.custom_op.fpgadataflow``) and ``FireExpand_hls``
    (``finn.custom_op.fpgadataflow.hls``) with qonnx's registry and FINN+'s op tables, so
    ``getCustomOp``, FINN's HLS passes (PrepareCppSim, PrepareIP, HLSSynthIP) and the build's
    generic Python execution find them. Idempotent."""
    import finn.custom_op.fpgadataflow as generic
    import finn.custom_op.fpgadataflow.hls as hls
    from qonnx.custom_op.registry import add_op_to_domain

    from .hls import FireExpand_hls
    from .op import FireExpand

    for module, domain, cls in ((generic, _DOMAIN, FireExpand), (hls, _DOMAIN + ".hls", FireExpand_hls)):
        getattr(module, "custom_op", {})[cls.__name__] = cls
        add_op_to_domain(domain, cls)
