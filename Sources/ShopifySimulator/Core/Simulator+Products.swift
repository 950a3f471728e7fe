import Foundation

extension ShopifySimulator {
    static func userError(_ field: [String], _ message: String, _ code: String) -> [String: Any] {
        ["field": field, "message": message, "code": code]
    }

    static func number(fromGID value: Any?) -> Int64? {
        guard let gid = value as? String else { return nil }
        return gid.split(separator: "/").last.flatMap { Int64($0) }
    }

    /// `productSet(identifier:, input:, synchronous: true)`: upsert by `customId`, the variant list replaced (a
    /// variant left out is deleted, with its inventory), stock set where `inventoryQuantities` are given.
    /// Identical input changes nothing.
    static func productSet(_ variables: [String: Any], in shop: inout SimulatedShop, ids: inout IdSequence, now: Date) -> [String: Any] {
        func refused(_ errors: [[String: Any]]) -> [String: Any] { ["product": NSNull(), "userErrors": errors] }
        guard let input = variables["input"] as? [String: Any] else {
            return refused([userError(["input"], "Input is required", "INVALID_INPUT")])
        }
        let customIdentifier = (variables["identifier"] as? [String: Any])?["customId"] as? [String: Any]
        let customId = customIdentifier?["value"] as? String
        if let customIdentifier {
            // A custom ID is a unique `id` metafield: its definition must exist before products can be found by it.
            let namespace = customIdentifier["namespace"] as? String ?? "$app"
            let key = customIdentifier["key"] as? String ?? ""
            let definition = shop.metafieldDefinitions[SimulatedShop.MetafieldDefinition.key(ownerType: "PRODUCT", namespace: namespace, key: key)]
            guard definition?.type == "id" else {
                return refused([
                    userError(
                        ["identifier", "customId"],
                        "No metafield definition of type id was found for namespace \(namespace) and key \(key) on products.",
                        "INVALID_METAFIELD"
                    )
                ])
            }
        }
        let title = (input["title"] as? String ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let variantInputs = input["variants"] as? [[String: Any]] ?? []

        var errors: [[String: Any]] = []
        if title.isEmpty { errors.append(userError(["input", "title"], "Title can't be blank", "INVALID_PRODUCT")) }
        if title.count > 255 { errors.append(userError(["input", "title"], "Title is too long (maximum is 255 characters)", "INVALID_PRODUCT")) }
        if variantInputs.isEmpty { errors.append(userError(["input", "variants"], "Variants can't be blank", "VARIANTS_INPUT_MISSING")) }
        if variantInputs.count > 2048 { errors.append(userError(["input", "variants"], "Too many variants", "VARIANTS_OVER_LIMIT")) }
        var seen = Set<String>()
        var parsed: [(option: String, sku: String?, barcode: String?, price: String, id: Int64?, quantities: [(Int64, Int)])] = []
        for (index, variant) in variantInputs.enumerated() {
            let path = ["input", "variants", String(index)]
            let option = ((variant["optionValues"] as? [[String: Any]])?.first?["name"] as? String) ?? ""
            if option.isEmpty { errors.append(userError(path + ["optionValues"], "Option value can't be blank", "OPTION_VALUES_MISSING")) }
            if !seen.insert(option).inserted {
                errors.append(userError(path, "The variant '\(option)' already exists.", "DUPLICATED_OPTION_VALUE"))
            }
            let priceText = variant["price"] as? String ?? "0"
            guard let price = Decimal(string: priceText), price >= 0 else {
                errors.append(userError(path + ["price"], "Price must be greater than or equal to 0", "INVALID_VARIANT"))
                continue
            }
            let sku = (variant["inventoryItem"] as? [String: Any])?["sku"] as? String
            if let sku, sku.count > 255 { errors.append(userError(path + ["sku"], "SKU is too long (maximum is 255 characters)", "INVALID_VARIANT")) }
            var quantities: [(Int64, Int)] = []
            for quantity in variant["inventoryQuantities"] as? [[String: Any]] ?? [] {
                guard let location = number(fromGID: quantity["locationId"]), shop.locations.contains(where: { $0.id == location }) else {
                    errors.append(userError(path + ["inventoryQuantities"], "Location not found", "INVALID_VARIANT"))
                    continue
                }
                quantities.append((location, quantity["quantity"] as? Int ?? 0))
            }
            parsed.append(
                (
                    option, sku, variant["barcode"] as? String, String(format: "%.2f", NSDecimalNumber(decimal: price).doubleValue),
                    number(fromGID: variant["id"]), quantities
                )
            )
        }
        if !errors.isEmpty { return refused(errors) }

        let existing = shop.product(customId: customId)
        var product =
            existing
            ?? SimulatedShop.Product(
                id: ids.take(),
                title: title,
                descriptionHtml: nil,
                status: "ACTIVE",
                customId: customId,
                variants: [],
                updatedAt: now
            )
        let before = product
        product.title = title
        product.descriptionHtml = input["descriptionHtml"] as? String
        product.status = input["status"] as? String ?? "ACTIVE"
        var variants: [SimulatedShop.Variant] = []
        for entry in parsed {
            let old = product.variant(id: entry.id, option: entry.option)
            let itemId = old?.inventoryItemId ?? ids.take()
            variants.append(
                SimulatedShop.Variant(
                    id: old?.id ?? ids.take(),
                    optionValue: entry.option,
                    sku: entry.sku,
                    barcode: entry.barcode,
                    price: entry.price,
                    inventoryItemId: itemId
                )
            )
            for (location, quantity) in entry.quantities { shop.inventory[itemId, default: [:]][location] = quantity }
        }
        var removedCount = 0
        for removed in product.variants where !variants.contains(where: { $0.id == removed.id }) {
            shop.inventory[removed.inventoryItemId] = nil
            removedCount += 1
        }
        let createdCount = variants.filter { new in !product.variants.contains { $0.id == new.id } }.count
        shop.countVariants(created: createdCount, removed: removedCount, now: now)
        product.variants = variants
        if existing == nil {
            shop.stats.productsCreated += 1
        } else if product != before {
            product.updatedAt = now
            shop.stats.productsChanged += 1
        }
        shop.products[product.id] = product
        if let customId { shop.productIdByCustomId[customId] = product.id }
        return [
            "product": [
                "id": "gid://shopify/Product/\(product.id)",
                "title": product.title,
                "status": product.status,
                "descriptionHtml": product.descriptionHtml ?? "",
                "variants": product.variants.map { variant in
                    [
                        "id": "gid://shopify/ProductVariant/\(variant.id)",
                        "sku": variant.sku as Any? ?? NSNull(),
                        "barcode": variant.barcode as Any? ?? NSNull(),
                        "price": variant.price,
                        "title": variant.optionValue,
                        "selectedOptions": [["name": "Title", "value": variant.optionValue]],
                        "inventoryItem": ["id": "gid://shopify/InventoryItem/\(variant.inventoryItemId)", "sku": variant.sku as Any? ?? NSNull()],
                    ] as [String: Any]
                },
            ] as [String: Any],
            "userErrors": [] as [Any],
        ]
    }
}

extension SimulatedShop {
    /// The product a custom ID (the FlowPOS product id) names, if the shop has it.
    func product(customId: String?) -> Product? {
        customId.flatMap { self.productIdByCustomId[$0] }.flatMap { self.products[$0] }
    }

    /// Days since 1970 (UTC): the variant ceiling's day.
    static func day(of date: Date) -> Int { Int(date.timeIntervalSince1970 / 86_400) }

    /// Counts variants created and removed (the ceiling's counts), starting a new day's count when the day changed.
    mutating func countVariants(created: Int, removed: Int, now: Date) {
        let today = Self.day(of: now)
        if today != self.variantDay {
            self.variantDay = today
            self.variantsCreatedToday = 0
        }
        self.variantCount += created - removed
        self.variantsCreatedToday += created
    }
}

extension SimulatedShop.Product {
    /// The variant `productSet` updates for an input variant: the one with its id, else the one with its option value
    /// (none: the input creates a variant).
    func variant(id: Int64?, option: String) -> SimulatedShop.Variant? {
        self.variants.first { $0.id == id } ?? self.variants.first { $0.optionValue == option }
    }
}

extension ShopifySimulator {
    /// Shopify's variant ceiling: in a shop with `variantCeilingThreshold` variants or more, a `productSet` that would
    /// create variants beyond the day's `dailyVariantCreations` is refused whole. Returns the refusal's message (and
    /// counts it), or nil when the call may run.
    static func variantCeilingRefusal(_ arguments: [String: Any], in shop: inout SimulatedShop, settings: SimulatorSettings, now: Date) -> String? {
        guard shop.variantCount >= settings.variantCeilingThreshold else { return nil }
        let input = arguments["input"] as? [String: Any] ?? [:]
        let customId = ((arguments["identifier"] as? [String: Any])?["customId"] as? [String: Any])?["value"] as? String
        let existing = shop.product(customId: customId)
        let created = (input["variants"] as? [[String: Any]] ?? []).filter { variant in
            let option = ((variant["optionValues"] as? [[String: Any]])?.first?["name"] as? String) ?? ""
            return existing?.variant(id: number(fromGID: variant["id"]), option: option) == nil
        }
        .count
        let today = SimulatedShop.day(of: now)
        let createdToday = shop.variantDay == today ? shop.variantsCreatedToday : 0
        guard created > 0, createdToday + created > settings.dailyVariantCreations else { return nil }
        shop.stats.variantCeilingRefusals += 1
        return "Daily variant creation limit reached. Please try again later. "
            + "See https://help.shopify.com/api/getting-started/api-call-limit for more information about rate limits and how to avoid them."
    }
}

extension ShopifySimulator {
    /// `metafieldDefinitionCreate(definition:)`: one definition per owner type, namespace and key; a second is
    /// refused as `TAKEN`. `id` definitions hold unique values, which is what `productSet`'s `customId` needs.
    static func metafieldDefinitionCreate(_ arguments: [String: Any], in shop: inout SimulatedShop, ids: inout IdSequence) -> [String: Any] {
        func refused(_ errors: [[String: Any]]) -> [String: Any] { ["createdDefinition": NSNull(), "userErrors": errors] }
        let input = arguments["definition"] as? [String: Any] ?? [:]
        let namespace = input["namespace"] as? String ?? "$app"
        let key = input["key"] as? String ?? ""
        let name = input["name"] as? String ?? ""
        let ownerType = input["ownerType"] as? String ?? ""
        let type = input["type"] as? String ?? ""
        if key.count < 2 { return refused([userError(["definition", "key"], "Key is too short (minimum is 2 characters)", "TOO_SHORT")]) }
        if name.isEmpty { return refused([userError(["definition", "name"], "Name can't be blank", "PRESENT")]) }
        let known = ["id", "single_line_text_field", "multi_line_text_field", "number_integer", "number_decimal", "boolean", "url", "json"]
        if !known.contains(type) { return refused([userError(["definition", "type"], "Type name \(type) is not a valid type.", "INCLUSION")]) }
        let slot = SimulatedShop.MetafieldDefinition.key(ownerType: ownerType, namespace: namespace, key: key)
        if shop.metafieldDefinitions[slot] != nil {
            return refused([
                userError(["definition", "key"], "Key is in use for \(ownerType.lowercased()) metafields on the '\(namespace)' namespace.", "TAKEN")
            ])
        }
        let definition = SimulatedShop.MetafieldDefinition(
            id: ids.take(),
            ownerType: ownerType,
            namespace: namespace,
            key: key,
            name: name,
            type: type
        )
        shop.metafieldDefinitions[slot] = definition
        return [
            "createdDefinition": [
                "id": "gid://shopify/MetafieldDefinition/\(definition.id)", "name": name, "namespace": namespace, "key": key, "ownerType": ownerType,
            ] as [String: Any],
            "userErrors": [] as [Any],
        ]
    }
}
