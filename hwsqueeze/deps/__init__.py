"""FINN+'s external dependencies for a Vivado build, fetched once into a cache.

What FINN+'s own ``finn deps update`` provides (finn-hlslib, attention-hlslib, board files,
nlohmann-json), installed in FINN's ``FINN_DEPS`` layout so FINN+'s generated TCL finds it, from
the internet or from a folder of clones / archives (``--from DIR``, ``HWSQUEEZE_DEPS_FROM``):

* :mod:`.pins`: the pins, read from FINN+'s own ``external_dependencies.yaml`` (FINN+ owns them),
  the cache folder and which dependency each board needs;
* :mod:`.manifest`: the record of what is installed (commit, sha256, substitute or not) and its
  status;
* :mod:`.fetch`: git clones verified against the pin, archives with sha256, atomic installs.

Compile side only; ``compile/finn_env.py`` points FINN+ at the cache, ``hwsqueeze doctor`` reports it.
"""
