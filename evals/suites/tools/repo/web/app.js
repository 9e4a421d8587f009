// Fills the product grid from the JSON API and keeps a cart count in localStorage.
const API = "http://127.0.0.1:8080";

async function loadProducts() {
  const response = await fetch(`${API}/products`);
  const products = await response.json();
  const grid = document.getElementById("products");
  grid.innerHTML = "";
  for (const product of products) {
    const card = document.createElement("article");
    card.className = "product-card";
    card.innerHTML = `
      <h3>${product.name}</h3>
      <p class="price">${product.price}</p>
      <button data-sku="${product.sku}" ${product.stock === 0 ? "disabled" : ""}>Add to cart</button>`;
    grid.appendChild(card);
  }
}

function updateCartCount() {
  const count = Number(localStorage.getItem("cartCount") || 0);
  document.getElementById("cart-count").textContent = count;
}

document.addEventListener("click", (event) => {
  if (event.target.matches("button[data-sku]")) {
    const count = Number(localStorage.getItem("cartCount") || 0) + 1;
    localStorage.setItem("cartCount", count);
    updateCartCount();
  }
});

loadProducts();
updateCartCount();
