// placeholder until GlossaJSON lands
