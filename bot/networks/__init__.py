"""The network catalogue: what the bot knows about each social network, as data."""

from bot.networks.catalogue import Catalogue, Network, load_catalogue

__all__ = ["Catalogue", "Network", "load_catalogue"]
