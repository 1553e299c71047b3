//! The trait impls that only forward to a type's own methods of the same
//! name, written once for the flavours whose methods match.

/// `PoolLike` for a pool type whose inherent `map`, `starmap` and `apply`
/// take the trait's arguments (every flavour's pool does).
macro_rules! pool_like {
    ($pool:ty) => {
        impl $crate::flavor_traits::PoolLike for $pool {
            fn map<F, T, R>(
                &self,
                f: F,
                items: impl IntoIterator<Item = T>,
            ) -> Result<Vec<R>, $crate::flavor_traits::FlavorError>
            where
                F: Fn(T) -> R + $crate::CodeOnly + Sync,
                T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
                R: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
            {
                Ok(<$pool>::map(self, f, items)?)
            }

            fn starmap<F, Args>(
                &self,
                f: F,
                items: impl IntoIterator<Item = Args>,
            ) -> Result<Vec<F::Output>, $crate::flavor_traits::FlavorError>
            where
                F: $crate::TupleFn<Args> + $crate::CodeOnly + Sync,
                Args: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
                F::Output: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
            {
                Ok(<$pool>::starmap(self, f, items)?)
            }

            fn apply<F, Args>(
                &self,
                f: F,
                args: Args,
            ) -> Result<F::Output, $crate::flavor_traits::FlavorError>
            where
                F: $crate::TupleFn<Args> + $crate::CodeOnly + Sync,
                Args: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
                F::Output: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
            {
                Ok(<$pool>::apply(self, f, args)?)
            }
        }
    };
}

/// `EventLike` for an event type whose inherent calls cannot fail (the
/// native and the thread-backed event).
macro_rules! infallible_event_like {
    ($event:ty) => {
        impl $crate::flavor_traits::EventLike for $event {
            fn set(&self) -> Result<(), $crate::flavor_traits::FlavorError> {
                <$event>::set(self);
                Ok(())
            }

            fn clear(&self) -> Result<(), $crate::flavor_traits::FlavorError> {
                <$event>::clear(self);
                Ok(())
            }

            fn is_set(&self) -> Result<bool, $crate::flavor_traits::FlavorError> {
                Ok(<$event>::is_set(self))
            }

            fn wait(
                &self,
                timeout: Option<std::time::Duration>,
            ) -> Result<bool, $crate::flavor_traits::FlavorError> {
                Ok(<$event>::wait(self, timeout))
            }
        }
    };
}
