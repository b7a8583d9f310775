/** `pricing` object of status webhooks (§3.5, §6, §12 "Windows and policy"). */
export interface Pricing {
  billable: boolean;
  pricing_model: 'PMP';
  type: 'regular' | 'free_customer_service' | 'free_entry_point';
  category: string;
}

/**
 * Per-message pricing since 2025-07-01 (§6): marketing and authentication templates are always
 * `regular`; a utility template inside an open service window is free; non-template messages
 * (only possible inside the window) are `free_customer_service` in category `service`.
 */
export function pricingFor(
  templateCategory: string | undefined,
  inWindow: boolean,
  freeEntryPoint = false,
): Pricing {
  // §6 / §3.5: everything sent in a free-entry-point window is free, category `referral_conversion`.
  if (freeEntryPoint)
    return {
      billable: false,
      pricing_model: 'PMP',
      type: 'free_entry_point',
      category: 'referral_conversion',
    };
  if (templateCategory === undefined)
    return { billable: false, pricing_model: 'PMP', type: 'free_customer_service', category: 'service' };
  const category = templateCategory.toLowerCase();
  if (category === 'utility' && inWindow)
    return { billable: false, pricing_model: 'PMP', type: 'free_customer_service', category };
  return { billable: true, pricing_model: 'PMP', type: 'regular', category };
}
