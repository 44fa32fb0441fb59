"""aelab.models.DocumentAutoencoder and aelab.losses.multinomial_nll_per_document (lecture 06)."""

import math

import pytest
import torch

from aelab import models, train
from aelab.losses import multinomial_nll_per_document


def test_loss_is_the_multinomial_log_likelihood_up_to_its_count_constant():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 7, generator=g, dtype=torch.float64)
    counts = torch.randint(0, 4, (4, 7), generator=g).double()
    got = multinomial_nll_per_document(logits, counts)
    want = []
    for row, n in zip(logits, counts):
        # log n! - sum log n_w! is the multinomial's constant: it does not depend on the logits
        constant = math.lgamma(n.sum() + 1) - sum(math.lgamma(c + 1) for c in n.tolist())
        log_p = torch.distributions.Multinomial(int(n.sum()), logits=row).log_prob(n)
        want.append(-(log_p - constant))
    assert got.item() == pytest.approx(torch.stack(want).mean().item(), rel=1e-10)


def test_loss_known_values():
    uniform = torch.zeros(2, 4)                                  # p = 1/4 for every word
    counts = torch.tensor([[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert multinomial_nll_per_document(uniform, counts).item() == pytest.approx(3 * math.log(4) / 2)
    assert multinomial_nll_per_document(uniform + 5.0, counts).item() == pytest.approx(3 * math.log(4) / 2)


def test_loss_bad_input():
    with pytest.raises(ValueError, match="one shape"):
        multinomial_nll_per_document(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="float tensor"):
        multinomial_nll_per_document(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=">= 0"):
        multinomial_nll_per_document(torch.zeros(2, 3), -torch.ones(2, 3))


def test_document_autoencoder_shapes_and_log_counts():
    torch.manual_seed(0)
    model = models.DocumentAutoencoder((20, 8, 3))
    assert models.code_size(model) == 3 and model.vocabulary_size == 20
    counts = torch.randint(0, 5, (6, 20)).float()
    z = model.encode(counts)
    assert z.shape == (6, 3) and model(counts).shape == (6, 20)
    by_hand = model.encoder(torch.log(1 + counts))
    torch.testing.assert_close(z, by_hand)
    with pytest.raises(ValueError):
        model.encode(torch.zeros(6, 21))
    with pytest.raises(ValueError, match="counts >= 0"):
        model.encode(-counts - 1)
    with pytest.raises(ValueError):
        model.decode(torch.zeros(6, 4))
    with pytest.raises(ValueError):
        models.DocumentAutoencoder((20,))


def test_training_lowers_the_loss_and_separates_topics():
    g = torch.Generator().manual_seed(0)
    topics = torch.softmax(3 * torch.randn(2, 30, generator=g), 1)        # two word distributions
    labels = torch.arange(200) % 2
    counts = torch.stack([torch.bincount(torch.multinomial(topics[t], 8, replacement=True, generator=g),
                                         minlength=30) for t in labels.tolist()]).float()
    torch.manual_seed(0)
    model = models.DocumentAutoencoder((30, 16, 2))
    history = train.fit(model, counts, epochs=30, loss=multinomial_nll_per_document, batch_size=50,
                        lr=1e-2, progress=False)
    assert history.train_loss[-1] < 0.8 * history.train_loss[0]
    with torch.no_grad():
        z = model.encode(counts)
    centers = torch.stack([z[labels == t].mean(0) for t in (0, 1)])
    nearest = (torch.cdist(z, centers).argmin(1) == labels).float().mean()
    assert nearest > 0.9                                                   # the code knows the topic
