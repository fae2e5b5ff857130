"""Building blocks shared by several model families.

* :mod:`.mobile`: conv-BN-act, SE, channel shuffle and the timm interface of our mobile nets.
* :mod:`.plain_net`: the timm interface (``forward_features`` / ``forward_head`` / classifier
  methods) of our own classic and transformer-style nets.
* :mod:`.downscale_dropout`: PaddlePaddle's ``downscale_in_infer`` dropout.
* :mod:`.paddle_se`: PaddleClas's Linear squeeze-and-excitation (ResNet, HRNet).
* :mod:`.batchnorm`: Paddle's BatchNorm epsilon on a built timm model (InceptionV3, DPN).
* :mod:`.beit`: timm's BEiT configured as PaddleClas's BEiT-style ViTs (BEiTv2, CAE).
* :mod:`.heads`: an extra FC before any model's classifier, and multi-stage feature maps.
* :mod:`.acnet`: ACNet's asymmetric convolution blocks, applied to any built model.

Nothing here knows the model table; family modules import what they use.
"""
