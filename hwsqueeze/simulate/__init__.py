"""Hardware truth below Vivado: FINN+'s generated HLS C++ (cppsim, g++) and RTL (Verilator),
layer by layer and as a network, bit-exact against FINN+'s Python execution of the HW graph.

Compile side only (imports finn/qonnx); nothing on the board side imports it.
Entry point: :func:`hwsqueeze.simulate.run.simulate`; CLI: ``hwsqueeze simulate``.
"""

