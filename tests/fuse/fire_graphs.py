"""A hand-made FINN+ HW graph of one Fire module's expand fork/join (the layers FINN+ generates for
it), with random integer weights and thresholds, for the fusion tests."""
from __future__ import annotations

import numpy as np


def fire_graph(c=8, ch1=8, ch3=8, h=6, w=6, pe1=2, simd1=4, pe3=2, simd3=8, cat_simd=2, swg_simd=2, seed=0,
               concat_order=(1, 3)):
    """x (1,h,w,c UINT4) -> DuplicateStreams -> MVAU 1x1 || FMPadding -> SWG 3x3 -> MVAU 3x3 -> Concat."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    rng = np.random.default_rng(seed)
    hw, hls, rtl = "fpgadataflow", "finn.custom_op.fpgadataflow.hls", "finn.custom_op.fpgadataflow.rtl"
    vecs = [1, h, w]
    t = lambda name, ch: helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, h, w, ch])  # noqa: E731

    def mvau(name, inp, out, mw, mh, pe, simd):
        return helper.make_node("MVAU_hls", [inp, name + "_W", name + "_T"], [out], name=name, domain=hls,
                                backend=hw, MW=mw, MH=mh, PE=pe, SIMD=simd, inputDataType="UINT4",
                                weightDataType="INT4", outputDataType="UINT4", accDataType="INT32", ActVal=0,
                                noActivation=0, binaryXnorMode=0, numInputVectors=vecs, mem_mode="internal_embedded")

    cat_in = {1: "e1", 3: "e3"}
    nodes = [
        helper.make_node("DuplicateStreams_hls", ["x"], ["d0", "d1"], name="DuplicateStreams_hls_0", domain=hls,
                         backend=hw, NumChannels=c, PE=1, NumOutputStreams=2, inputDataType="UINT4",
                         numInputVectors=vecs),
        mvau("MVAU_hls_0", "d0", "e1", c, ch1, pe1, simd1),
        helper.make_node("FMPadding_rtl", ["d1"], ["p"], name="FMPadding_rtl_0", domain=rtl, backend=hw,
                         ImgDim=[h, w], Padding=[1, 1, 1, 1], NumChannels=c, SIMD=swg_simd, inputDataType="UINT4"),
        helper.make_node("ConvolutionInputGenerator_rtl", ["p"], ["win"], name="ConvolutionInputGenerator_rtl_0",
                         domain=rtl, backend=hw, ConvKernelDim=[3, 3], IFMChannels=c, IFMDim=[h + 2, w + 2],
                         OFMDim=[h, w], SIMD=swg_simd, Stride=[1, 1], Dilation=[1, 1], inputDataType="UINT4",
                         outputDataType="UINT4", depthwise=0),
        mvau("MVAU_hls_1", "win", "e3", 9 * c, ch3, pe3, simd3),
        helper.make_node("StreamingConcat_hls", [cat_in[i] for i in concat_order], ["y"], name="StreamingConcat_hls_0",
                         domain=hls, backend=hw, SIMD=cat_simd,
                         ChannelsPerStream=[{1: ch1, 3: ch3}[i] for i in concat_order],
                         inputDataTypes=["UINT4", "UINT4"], numInputVectors=vecs),
    ]
    vi = [t("d0", c), t("d1", c), t("e1", ch1), t("e3", ch3),
          helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, h + 2, w + 2, c]),
          helper.make_tensor_value_info("win", TensorProto.FLOAT, [1, h, w, 9 * c])]
    graph = helper.make_graph(nodes, "fire", [t("x", c)], [t("y", ch1 + ch3)], value_info=vi)
    model = ModelWrapper(qonnx_make_model(graph))
    for name in ("x", "d0", "d1", "e1", "e3", "p", "win", "y"):
        model.set_tensor_datatype(name, DataType["UINT4"])
    for name, mw, mh in (("MVAU_hls_0", c, ch1), ("MVAU_hls_1", 9 * c, ch3)):
        model.set_initializer(name + "_W", rng.integers(-8, 8, (mw, mh)).astype(np.float32))
        model.set_tensor_datatype(name + "_W", DataType["INT4"])
        spread = 4 * mw
        model.set_initializer(name + "_T", np.sort(rng.integers(-spread, spread, (mh, 15)), axis=1).astype(np.float32))
        model.set_tensor_datatype(name + "_T", DataType["INT32"])
    return model
