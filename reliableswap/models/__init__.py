"""Networks: generators, discriminator and identity encoders.

- :mod:`.contract`: :class:`SwapGenerator` (the generator protocol), :class:`SwapForward` and
  :class:`SwapNetworks` (the passes the training module runs);
- :mod:`.aei_net`: FaceShifter's AEI-Net; :mod:`.simswap`: SimSwap's generator;
- :mod:`.discriminator`: the multi-scale PatchGAN;
- :mod:`.identity`: identity encoders (ArcFace iresnet, MobileFaceNet, ONNX, FixerNet, combined);
- :mod:`.margin`: the ArcFace margin head; :mod:`.released`: released checkpoints' layouts.
"""
