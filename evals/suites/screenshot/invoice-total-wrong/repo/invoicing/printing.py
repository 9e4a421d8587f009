def render(invoice):
    out = [f"Invoice {invoice.number} - {invoice.customer}", ""]
    out.append(f"{'Description':<30}{'Qty':>5}{'Unit':>10}{'Amount':>11}")
    out.append("-" * 56)
    for line in invoice.lines:
        out.append(f"{line.description:<30}{line.quantity:>5}{line.unit_price:>10.2f}{line.amount:>11.2f}")
    out.append("-" * 56)
    out.append(f"{'Subtotal':<45}{invoice.subtotal():>11.2f}")
    out.append(f"{'VAT 21%':<45}{invoice.vat():>11.2f}")
    out.append(f"{'Total':<45}{invoice.total():>11.2f}")
    return "\n".join(out)
