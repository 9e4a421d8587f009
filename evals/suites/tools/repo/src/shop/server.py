"""The JSON API, served with the standard library's http.server."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from .config import DATABASE_PATH, HOST, PORT
from .inventory import Inventory
from .pricing import format_price

CATALOGUE = "data/products.csv"


class ShopHandler(BaseHTTPRequestHandler):
    inventory: Inventory

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/health":
            self._send(200, {"status": "ok", "db": DATABASE_PATH})
        elif url.path == "/products":
            category = parse_qs(url.query).get("category", [None])[0]
            products = self.inventory.products.values()
            if category:
                products = [p for p in products if p.category == category]
            self._send(200, [
                {"sku": p.sku, "name": p.name, "price": format_price(p.price),
                 "stock": self.inventory.stock[p.sku]}
                for p in products
            ])
        else:
            self._send(404, {"error": f"no route {url.path}"})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def run(host: str = HOST, port: int = PORT) -> None:
    ShopHandler.inventory = Inventory.from_csv(CATALOGUE)
    server = ThreadingHTTPServer((host, port), ShopHandler)
    print(f"Serving the shop API on http://{host}:{port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    run()
