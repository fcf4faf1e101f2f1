"""The group-norm identities the course states the other way round, pinned on numbers."""

import torch
from torch import nn

from reglab.models.norm import conv_norm


def test_one_group_is_layer_norm_over_channels_and_positions():
    torch.manual_seed(0)
    x = torch.randn(4, 6, 5, 5) * 3 + 1
    one_group = nn.GroupNorm(1, 6)
    layer = nn.LayerNorm([6, 5, 5], elementwise_affine=False)
    # each sample normalised over all its channels and positions
    assert torch.allclose(one_group(x), layer(x), atol=1e-5)
    flat = x.flatten(1)
    by_hand = (flat - flat.mean(1, keepdim=True)) / torch.sqrt(
        flat.var(1, unbiased=False, keepdim=True) + 1e-5
    )
    assert torch.allclose(one_group(x).flatten(1), by_hand, atol=1e-5)
    # reglab's model.norm=layer on conv maps is this GroupNorm(1, C)
    (norm,) = conv_norm("layer", 6, 2)
    assert isinstance(norm, nn.GroupNorm) and norm.num_groups == 1


def test_as_many_groups_as_channels_is_instance_norm_with_affine_parameters():
    torch.manual_seed(1)
    x = torch.randn(4, 6, 5, 5) * 2 - 1
    per_channel = nn.GroupNorm(6, 6)
    instance = nn.InstanceNorm2d(6, affine=True)
    with torch.no_grad():  # the same per-channel scale and shift in both
        gamma, beta = torch.randn(6), torch.randn(6)
        for norm in (per_channel, instance):
            norm.weight.copy_(gamma)
            norm.bias.copy_(beta)
    assert torch.allclose(per_channel(x), instance(x), atol=1e-5)
    # and not the other way round: one group is not instance norm
    assert not torch.allclose(nn.GroupNorm(1, 6)(x), nn.InstanceNorm2d(6)(x), atol=1e-3)
